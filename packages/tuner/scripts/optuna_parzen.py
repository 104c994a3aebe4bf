"""Optuna's Parzen estimator on given observations, to check packages/tuner's.

Reads JSON on stdin: {"space": {name: {"type": "float"|"int"|"categorical", "low", "high",
"log", "step", "choices"}}, "observations": {name: [internal values]}, "points": {name:
[internal values]}, "multivariate": bool}. Writes JSON: the log density of each point.
Run with Debian's python3-optuna: /usr/bin/python3 optuna_parzen.py < case.json
"""
import json
import sys
import warnings

import numpy as np
from optuna import distributions
from optuna.samplers._tpe import parzen_estimator
from optuna.samplers._tpe.sampler import default_weights

warnings.simplefilter("ignore")
spec = json.load(sys.stdin)
space = {}
for name, d in spec["space"].items():
    if d["type"] == "categorical":
        space[name] = distributions.CategoricalDistribution(d["choices"])
    elif d["type"] == "float":
        space[name] = distributions.FloatDistribution(
            d["low"], d["high"], log=d.get("log", False), step=d.get("step")
        )
    else:
        space[name] = distributions.IntDistribution(
            d["low"], d["high"], log=d.get("log", False), step=d.get("step", 1)
        )
parameters = parzen_estimator._ParzenEstimatorParameters(
    consider_prior=True,
    prior_weight=1.0,
    consider_magic_clip=True,
    consider_endpoints=False,
    weights=default_weights,
    multivariate=spec["multivariate"],
)
observations = {k: np.asarray(v, dtype=float) for k, v in spec["observations"].items()}
estimator = parzen_estimator._ParzenEstimator(observations, space, parameters)
points = {
    k: np.asarray(v, dtype=int if isinstance(space[k], distributions.CategoricalDistribution) else float)
    for k, v in spec["points"].items()
}
json.dump({"logPdf": estimator.log_pdf(points).tolist()}, sys.stdout)
