/**
 * A search space as the samplers see it: named parameters in order, each with a
 * distribution and optionally a condition on an earlier parameter's value (or on a fixed
 * value of the trial, such as its method). A suggestion is made parameter by parameter in
 * that order, so a condition always reads a value already chosen.
 */
import {
  type Distribution,
  distributionProblems,
  type JsonValue,
  sameJson,
  toInternal,
} from './distributions.js';

export interface SearchCondition {
  /** An earlier parameter, or a key of the trial's fixed values. */
  readonly param: string;
  /** The values for which the conditioned parameter is searched. */
  readonly in: readonly JsonValue[];
}

export interface SearchParameter {
  readonly name: string;
  readonly distribution: Distribution;
  readonly when?: SearchCondition;
}

export type Params = Readonly<Record<string, JsonValue>>;

/**
 * What is wrong with a space, each message starting with the parameter's index and field
 * (`[1].distribution.low: ...`), given the keys a trial's fixed values may have.
 */
export function searchSpaceProblems(
  space: readonly SearchParameter[],
  fixedKeys: readonly string[] = [],
): string[] {
  const problems: string[] = [];
  const seen = new Map<string, SearchParameter>();
  space.forEach((parameter, index) => {
    const at = `[${index}]`;
    if (seen.has(parameter.name))
      problems.push(`${at}.name: ${JSON.stringify(parameter.name)} is searched twice`);
    for (const problem of distributionProblems(parameter.distribution)) {
      problems.push(`${at}.distribution.${problem}`);
    }
    const condition = parameter.when;
    if (condition) {
      const earlier = seen.get(condition.param);
      if (!earlier && !fixedKeys.includes(condition.param)) {
        problems.push(
          `${at}.when.param: ${JSON.stringify(condition.param)} is neither an earlier parameter nor one of ${fixedKeys.join(', ') || 'the fixed values'}`,
        );
      } else if (earlier && earlier.distribution.type !== 'categorical') {
        problems.push(
          `${at}.when.param: ${JSON.stringify(condition.param)} must be a categorical parameter`,
        );
      } else if (earlier) {
        for (const value of condition.in) {
          if (toInternal(earlier.distribution, value) < 0) {
            problems.push(
              `${at}.when.in: ${JSON.stringify(value)} is not a choice of ${condition.param}`,
            );
          }
        }
      }
      if (condition.in.length === 0) problems.push(`${at}.when.in: must hold at least one value`);
    }
    seen.set(parameter.name, parameter);
  });
  return problems;
}

/** Whether the parameter is searched, given the values chosen so far and the fixed ones. */
export function isActive(parameter: SearchParameter, chosen: Params, fixed: Params): boolean {
  const condition = parameter.when;
  if (!condition) return true;
  const value = condition.param in chosen ? chosen[condition.param] : fixed[condition.param];
  if (value === undefined) return false;
  return condition.in.some((choice) => sameJson(choice, value));
}
