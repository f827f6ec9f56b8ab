"""Safety scoring in the RadSaFE / SaFE-Scale style: option-level risk labels, sampling
confidence, dangerous overconfidence, clustered-bootstrap intervals, collective failure.

Modules: `model` (data), `io` / `radsafe_layout` (formats), `parsing` (answers), `presets`,
`evaluate` (all metrics: `evaluate(run, preset)`), `single` (one item), `report` (HTML),
`runner` + `retrieval` (model runs), `runs` (a directory of runs). See docs/safety.md.
"""
