"""The Optuna peer of `npm run bench -- tpe`: Optuna's own TPE and random samplers on the
problems the benchmark gives, best-so-far per trial.

Reads JSON on stdin: {"trials": n, "seeds": [..], "problems": [{"name", "params": [{"name",
"distribution": {"type": "float"|"int"|"categorical", "low", "high", "log", "step",
"choices"}}], "objective": an arithmetic expression over the parameter names, with cos,
sin, exp, sqrt, log10, pi}], "suggest": {"sizes", "params", "repeats"}}. Writes JSON: {"optuna": version, "curves": {problem: {"tpe": [[best
after trial 1, ...] per seed], "random": [...]}}, "seconds": {problem: {"tpe", "random"}}, "suggestMs": {"<size>/<multivariate>": median
ms of one ask with its suggestions at that many completed trials}}.
Run with Debian's python3-optuna: /usr/bin/python3 bench/optuna_tpe.py < problems.json
"""
import json
import math
import random
import statistics
import sys
import time
import warnings

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore")
spec = json.load(sys.stdin)
names = {
    "cos": math.cos,
    "sin": math.sin,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log10": math.log10,
    "pi": math.pi,
}


def suggest(trial, parameter):
    d = parameter["distribution"]
    if d["type"] == "categorical":
        return trial.suggest_categorical(parameter["name"], d["choices"])
    if d["type"] == "float":
        return trial.suggest_float(
            parameter["name"], d["low"], d["high"], log=d.get("log", False), step=d.get("step")
        )
    return trial.suggest_int(
        parameter["name"], d["low"], d["high"], log=d.get("log", False), step=d.get("step", 1)
    )


def curve(problem, sampler):
    code = compile(problem["objective"], problem["name"], "eval")

    def objective(trial):
        values = {p["name"]: suggest(trial, p) for p in problem["params"]}
        return eval(code, {"__builtins__": {}}, {**names, **values})

    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(objective, n_trials=spec["trials"])
    best, out = math.inf, []
    for trial in study.trials:
        best = min(best, trial.value)
        out.append(best)
    return out


result = {"optuna": optuna.__version__, "curves": {}, "seconds": {}}
for problem in spec["problems"]:
    curves, seconds = {}, {}
    for kind in ("tpe", "random"):
        start = time.perf_counter()
        curves[kind] = [
            curve(
                problem,
                optuna.samplers.TPESampler(seed=seed)
                if kind == "tpe"
                else optuna.samplers.RandomSampler(seed=seed),
            )
            for seed in spec["seeds"]
        ]
        seconds[kind] = time.perf_counter() - start
    result["curves"][problem["name"]] = curves
    result["seconds"][problem["name"]] = seconds


def suggest_ms(size, n_params, repeats, multivariate):
    rng = random.Random(1)
    space = {f"x{i}": optuna.distributions.FloatDistribution(-5, 5) for i in range(n_params)}
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=0, multivariate=multivariate)
    )
    history = []
    for _ in range(size):
        params = {name: rng.uniform(-5, 5) for name in space}
        value = sum(v * v for v in params.values())
        history.append(
            optuna.trial.create_trial(params=params, distributions=space, value=value)
        )
    study.add_trials(history)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trial = study.ask()
        for name in space:
            trial.suggest_float(name, -5, 5)
        times.append(time.perf_counter() - start)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return statistics.median(times) * 1000


suggest = spec.get("suggest")
result["suggestMs"] = {}
if suggest:
    for size in suggest["sizes"]:
        for multivariate in (False, True):
            key = f"{size}/{'true' if multivariate else 'false'}"
            result["suggestMs"][key] = suggest_ms(
                size, suggest["params"], suggest["repeats"], multivariate
            )
json.dump(result, sys.stdout)
