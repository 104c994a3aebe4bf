{{/*
Named templates of the masksweep chart. Those that take a dict expect:
  context: the top-level object ($)
  component: controller, leaderboard, artifacts, crds or test
  values: the component's values (labels, annotations), when it has them
*/}}

{{/* <release>-masksweep, or the release's name when it already says masksweep. */}}
{{- define "masksweep.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* <fullname>-<component>: the name of a component's resources. */}}
{{- define "masksweep.componentName" -}}
{{- printf "%s-%s" (include "masksweep.fullname" .context) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels a component's selectors match; they never change across upgrades. */}}
{{- define "masksweep.selectorLabels" -}}
app.kubernetes.io/name: {{ .context.Chart.Name }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Every label of a component's resources: the chart's, commonLabels, the component's. */}}
{{- define "masksweep.labels" -}}
{{ include "masksweep.selectorLabels" . }}
app.kubernetes.io/part-of: masksweep
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .context.Chart.Name .context.Chart.Version | trunc 63 | trimSuffix "-" }}
{{- with .context.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- with .values }}
{{- with .labels }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The metadata of a resource. Besides context, component and values it takes:
  name: the resource's name (default <fullname>-<component>)
  namespace: its namespace (default the release's), or clusterScoped: true
  annotations: annotations the chart sets, printed before the component's own
*/}}
{{- define "masksweep.metadata" -}}
name: {{ .name | default (include "masksweep.componentName" .) }}
{{- if not .clusterScoped }}
namespace: {{ .namespace | default .context.Release.Namespace }}
{{- end }}
labels:
  {{- include "masksweep.labels" . | nindent 2 }}
{{- $extra := dict }}
{{- with .values }}
{{- $extra = .annotations }}
{{- end }}
{{- if or .annotations $extra }}
annotations:
  {{- with .annotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with $extra }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* repository:tag of an image dict, the tag defaulting to the chart's appVersion. */}}
{{- define "masksweep.image" -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .context.Chart.AppVersion) }}
{{- end }}

{{/* The image of trial pods: trialRunner.image, or the controller's when it has no repository. */}}
{{- define "masksweep.trialRunnerImage" -}}
{{- with .Values.trialRunner.image }}
{{- if .repository }}
{{- include "masksweep.image" (dict "image" . "context" $) }}
{{- else }}
{{- include "masksweep.image" (dict "image" $.Values.controller.image "context" $) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "masksweep.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- .Values.controller.serviceAccount.name | default (include "masksweep.componentName" (dict "context" . "component" "controller")) }}
{{- else }}
{{- required "controller.serviceAccount.name: name the ServiceAccount to use when serviceAccount.create is false" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The NATS client URL: natsUrl, else the NATS chart's Service, named as that chart's fullname
helper names it. Fully qualified because trial pods may run in other namespaces.
*/}}
{{- define "masksweep.natsUrl" -}}
{{- if .Values.natsUrl }}
{{- .Values.natsUrl }}
{{- else if .Values.nats.enabled }}
{{- $service := printf "%s-nats" .Release.Name }}
{{- if contains "nats" .Release.Name }}
{{- $service = .Release.Name }}
{{- end }}
{{- printf "nats://%s.%s.svc:4222" ($service | trunc 63 | trimSuffix "-") .Release.Namespace }}
{{- else }}
{{- required "natsUrl: give the URL of a NATS server with JetStream when nats.enabled is false" .Values.natsUrl }}
{{- end }}
{{- end }}

{{/* The leaderboard's gRPC address, fully qualified for trial pods in other namespaces. */}}
{{- define "masksweep.leaderboardAddress" -}}
{{- printf "%s.%s.svc:50051" (include "masksweep.componentName" (dict "context" . "component" "leaderboard")) .Release.Namespace }}
{{- end }}

{{- define "masksweep.artifactsClaim" -}}
{{- .Values.artifacts.existingClaim | default (include "masksweep.componentName" (dict "context" . "component" "artifacts")) }}
{{- end }}

{{- define "masksweep.tokenSecretName" -}}
{{- .Values.leaderboard.existingSecret | default (include "masksweep.componentName" (dict "context" . "component" "leaderboard-token")) }}
{{- end }}

{{- define "masksweep.tokenSecretKey" -}}
{{- if .Values.leaderboard.existingSecret }}
{{- .Values.leaderboard.existingSecretKey }}
{{- else -}}
token
{{- end }}
{{- end }}

{{/* What every pod of the chart shares: the security context (the images run as 1000), pull secrets. */}}
{{- define "masksweep.podCommon" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "masksweep.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop:
      - ALL
{{- end }}

{{/* nodeSelector, tolerations and affinity of a component's pods. */}}
{{- define "masksweep.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* One CRD from files/crds, with the chart's metadata and crds.keep. */}}
{{- define "masksweep.crd" -}}
{{- $crd := .context.Files.Get .file | fromYaml }}
{{- $keep := dict }}
{{- if .context.Values.crds.keep }}
{{- $keep = dict "helm.sh/resource-policy" "keep" }}
{{- end }}
apiVersion: {{ $crd.apiVersion }}
kind: {{ $crd.kind }}
metadata:
  {{- include "masksweep.metadata" (dict "context" .context "component" "crds" "values" .context.Values.crds "name" $crd.metadata.name "clusterScoped" true "annotations" $keep) | nindent 2 }}
spec:
  {{- toYaml $crd.spec | nindent 2 }}
{{- end }}
