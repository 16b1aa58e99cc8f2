"""Alertmanager-compatible notification templates in Go template syntax (the default for every receiver):
the data model (:mod:`.data`), Alertmanager 0.25's functions (:mod:`.funcs`), the template set with the
defaults and ``templates:`` files (:mod:`.render`) and the per-field rendering of receivers (:mod:`.fields`).
"""
