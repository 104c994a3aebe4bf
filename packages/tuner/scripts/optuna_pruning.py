"""Optuna's own pruning decisions on a synthetic metric stream, to check packages/tuner.

Reads JSON on stdin: {"direction", "pruner": {"type": "median"|"asha", ...options},
"events": [{"trial": id, "step": s, "value": v} | {"trial": id, "complete": true}]}.
Events of a trial after Optuna pruned it are skipped. Writes JSON: the ids of the pruned
trials with the step each was pruned at.
Run with Debian's python3-optuna: /usr/bin/python3 optuna_pruning.py < stream.json
"""
import json
import warnings
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Repeated reports of a step are part of the stream; Optuna warns and keeps the first.
warnings.simplefilter("ignore")
spec = json.load(sys.stdin)
options = spec["pruner"]
if options["type"] == "median":
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=options.get("startupTrials", 5),
        n_warmup_steps=options.get("warmupSteps", 0),
        interval_steps=options.get("intervalSteps", 1),
        n_min_trials=options.get("minTrials", 1),
    )
else:
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=options.get("minResource", "auto"),
        reduction_factor=options.get("reductionFactor", 4),
        min_early_stopping_rate=options.get("minEarlyStoppingRate", 0),
        bootstrap_count=options.get("bootstrapCount", 0),
    )
study = optuna.create_study(direction=spec["direction"], pruner=pruner)
trials = {}
pruned = {}
for event in spec["events"]:
    trial_id = event["trial"]
    if trial_id in pruned:
        continue
    if trial_id not in trials:
        trials[trial_id] = study.ask()
    trial = trials[trial_id]
    if event.get("complete"):
        last = max(trial.storage.get_trial(trial._trial_id).intermediate_values.items())[1]
        study.tell(trial, last)
        continue
    trial.report(event["value"], event["step"])
    if trial.should_prune():
        pruned[trial_id] = event["step"]
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
json.dump({"pruned": pruned}, sys.stdout)
