"""Grafana panels to tsdb panels and back (see docs/dashboards.md, "Grafana import"): :func:`import_panel`
converts one Grafana panel (current and legacy types) and never fails on content it does not understand
(that becomes a ``placeholder`` panel plus a warning); :func:`export_panel` writes a tsdb panel as
Grafana 10+ does, so that importing the export gives the same panel."""

from __future__ import annotations

import math
from typing import Any

from tsdb.ui.exprcheck import check

Warnings = list[str]

DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
REDUCERS = ("lastNotNull", "last", "mean", "max", "min", "sum", "first")
_REDUCER_ALIASES = {"firstNotNull": "first", "avg": "mean"}
_SINGLESTAT_REDUCE = {"avg": "mean", "current": "lastNotNull", "max": "max", "min": "min", "total": "sum",
                      "first": "first"}
LEGEND_CALCS = ("mean", "max", "min", "lastNotNull")
_FIELD_KEYS = ("unit", "decimals", "min", "max", "thresholds", "color", "displayName")
# Grafana's own non-query data sources: no warning for them
_NEUTRAL_DS_TYPES = {"prometheus", "datasource", "grafana", ""}


def unsupported_message(kind: str) -> str:
    """The message of the placeholder an unsupported Grafana panel type becomes."""
    return f"Grafana panel type {kind!r} is not supported by tsdb dashboards; shown as a placeholder"


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (Grafana JSON is loosely typed)."""
    return value if isinstance(value, dict) else {}


def seq(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def _num(value: Any) -> float | int | None:
    """A number from Grafana's loose fields ("10", 10, "", null)."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    try:
        number = float(str(value))
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def grid_pos(raw: Any) -> dict[str, int]:
    grid = obj(raw)
    w = min(max(_int(grid.get("w")) or 12, 1), 24)
    x = min(max(_int(grid.get("x")) or 0, 0), 24 - w)
    return {"x": x, "y": max(_int(grid.get("y")) or 0, 0), "w": w, "h": max(_int(grid.get("h")) or 8, 1)}


def _reduce(calc: Any, where: str, warnings: Warnings) -> str:
    calc = _REDUCER_ALIASES.get(calc, calc)
    if calc in REDUCERS:
        return str(calc)
    if calc not in (None, ""):
        warnings.append(f"{where}: reduction {calc!r} is not supported; using lastNotNull")
    return "lastNotNull"


def _ds_type(ds: Any) -> str:
    return str(ds.get("type") or "") if isinstance(ds, dict) else ""


def _targets(panel: dict[str, Any], where: str, warnings: Warnings) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    panel_ds = _ds_type(panel.get("datasource"))
    raw_targets = seq(panel.get("targets"))
    for i, raw in enumerate(raw_targets):
        if not isinstance(raw, dict):
            continue
        ref = raw.get("refId") if isinstance(raw.get("refId"), str) and raw.get("refId") else None
        at = f"{where}.targets[{ref or i}]"
        ds = _ds_type(raw.get("datasource")) or panel_ds
        if ds not in _NEUTRAL_DS_TYPES:
            warnings.append(f"{at}: datasource type {ds!r} is not Prometheus; the query may not work")
        expr = raw.get("expr")
        if not isinstance(expr, str):
            warnings.append(f"{at}: no PromQL expression (expr); target dropped")
            continue
        target: dict[str, Any] = {"refId": ref or "", "expr": expr,
                                  "legendFormat": str(raw.get("legendFormat") or ""),
                                  "interval": str(raw.get("interval") or ""),
                                  "instant": bool(raw.get("instant")) and not raw.get("range"),
                                  "hide": bool(raw.get("hide"))}
        if raw.get("format") in ("table", "heatmap"):
            target["format"] = raw["format"]
        if expr.strip():
            problem = check(expr)
            if problem is not None:
                warnings.append(f"{at}: expression does not parse as PromQL: {problem}")
        out.append(target)
    # normalise() gives refIds to targets without one; duplicates would make the model invalid
    seen: set[str] = set()
    for target in out:
        if target["refId"] in seen:
            target["refId"] = ""
        seen.add(target["refId"])
    letters = (chr(ord("A") + n) for n in range(26 * 26))
    for target in out:
        if not target["refId"]:
            target["refId"] = next(r for r in letters if r not in seen)
            seen.add(target["refId"])
    return out


def _field_config(panel: dict[str, Any]) -> dict[str, Any]:
    raw = panel.get("fieldConfig")
    defaults = raw.get("defaults") if isinstance(raw, dict) else None
    out: dict[str, Any] = {}
    if isinstance(defaults, dict):
        for key in _FIELD_KEYS:
            if defaults.get(key) not in (None, ""):
                out[key] = defaults[key]
    for key in ("decimals", "min", "max"):
        if key in out:
            number = _num(out[key])
            if number is None:
                del out[key]
            else:
                out[key] = number
    thresholds = out.get("thresholds")
    if thresholds is not None:
        steps = thresholds.get("steps") if isinstance(thresholds, dict) else None
        if not isinstance(steps, list):
            del out["thresholds"]
        else:
            out["thresholds"] = {
                "mode": "percentage" if thresholds.get("mode") == "percentage" else "absolute",
                "steps": [{"value": None if n == 0 else _num(s.get("value")), "color": str(s.get("color") or "")}
                          for n, s in enumerate(x for x in steps if isinstance(x, dict))]}
    return out


def _legacy_thresholds(panel: dict[str, Any]) -> dict[str, Any] | None:
    """singlestat's ``thresholds: "50,80"`` and ``colors: [ok, warn, bad]`` as threshold steps."""
    values = [_num(v) for v in str(panel.get("thresholds") or "").split(",") if v.strip()]
    colors = [c for c in panel.get("colors") or [] if isinstance(c, str)]
    if not values or None in values:
        return None
    colors += ["green", "orange", "red"][len(colors):]
    steps: list[dict[str, Any]] = [{"value": None, "color": colors[0]}]
    steps += [{"value": v, "color": colors[min(i + 1, len(colors) - 1)]} for i, v in enumerate(values)]
    return {"mode": "absolute", "steps": steps}


def _timeseries_options(panel: dict[str, Any]) -> dict[str, Any]:
    defaults = obj(obj(panel.get("fieldConfig")).get("defaults"))
    custom = obj(defaults.get("custom"))
    options = obj(panel.get("options"))
    legend = obj(options.get("legend"))
    tooltip = obj(options.get("tooltip"))
    stacking = obj(custom.get("stacking"))
    draw = custom.get("drawStyle")
    stack = stacking.get("mode")
    calcs = [c for c in legend.get("calcs") or [] if c in LEGEND_CALCS]
    return {"drawStyle": draw if draw in ("line", "bars", "points") else "line",
            "stacking": stack if stack in ("normal", "percent") else "none",
            "fillOpacity": min(max(_int(custom.get("fillOpacity")) or 0, 0), 100),
            "lineWidth": max(_int(custom.get("lineWidth")) or 1, 0),
            "legend": {"show": legend.get("showLegend", True) is not False and legend.get("displayMode") != "hidden",
                       "placement": "right" if legend.get("placement") == "right" else "bottom",
                       "displayMode": "table" if legend.get("displayMode") == "table" else "list",
                       "calcs": calcs},
            "tooltip": {"mode": tooltip.get("mode") if tooltip.get("mode") in ("multi", "none") else "single"}}


def _graph(panel: dict[str, Any], where: str, warnings: Warnings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Legacy ``graph``: options and fieldConfig of the equivalent timeseries panel."""
    lines, bars, points = panel.get("lines", True), panel.get("bars", False), panel.get("points", False)
    draw = "bars" if bars and not lines else "points" if points and not lines and not bars else "line"
    legend = obj(panel.get("legend"))
    calcs = []
    if legend.get("values"):
        calcs = [calc for key, calc in (("avg", "mean"), ("max", "max"), ("min", "min"), ("current", "lastNotNull"))
                 if legend.get(key)]
    tooltip = obj(panel.get("tooltip"))
    options = {"drawStyle": draw,
               "stacking": ("percent" if panel.get("percentage") else "normal") if panel.get("stack") else "none",
               "fillOpacity": min(max((_int(panel.get("fill")) if "fill" in panel else 1) or 0, 0), 10) * 10,
               "lineWidth": max(_int(panel.get("linewidth")) or 1, 0),
               "legend": {"show": legend.get("show", True) is not False,
                          "placement": "right" if legend.get("rightSide") else "bottom",
                          "displayMode": "table" if legend.get("alignAsTable") else "list", "calcs": calcs},
               "tooltip": {"mode": "multi" if tooltip.get("shared") else "single"}}
    field: dict[str, Any] = {}
    yaxes = seq(panel.get("yaxes"))
    if yaxes and isinstance(yaxes[0], dict):
        axis = yaxes[0]
        if axis.get("format"):
            field["unit"] = str(axis["format"])
        for key in ("min", "max"):
            if _num(axis.get(key)) is not None:
                field[key] = _num(axis.get(key))
        if _num(axis.get("decimals")) is not None:
            field["decimals"] = _num(axis.get("decimals"))
    if _num(panel.get("decimals")) is not None:
        field["decimals"] = _num(panel.get("decimals"))
    if panel.get("seriesOverrides"):
        warnings.append(f"{where}: seriesOverrides are not supported and were ignored")
    return options, field


def _singlestat(panel: dict[str, Any], where: str, warnings: Warnings) -> tuple[str, dict[str, Any], dict[str, Any]]:
    value_name = panel.get("valueName", "avg")
    reduce = _SINGLESTAT_REDUCE.get(value_name)
    if reduce is None:
        warnings.append(f"{where}: valueName {value_name!r} is not supported; using lastNotNull")
        reduce = "lastNotNull"
    field: dict[str, Any] = {}
    if panel.get("format"):
        field["unit"] = str(panel["format"])
    if _num(panel.get("decimals")) is not None:
        field["decimals"] = _num(panel.get("decimals"))
    thresholds = _legacy_thresholds(panel)
    if thresholds is not None:
        field["thresholds"] = thresholds
    # every old singlestat carries the default mapping null -> "N/A"; only other mappings are worth a warning
    maps = [m for key in ("valueMaps", "rangeMaps") for m in panel.get(key) or [] if isinstance(m, dict)]
    if any(m.get("text") not in (None, "", "N/A") for m in maps):
        warnings.append(f"{where}: value mappings are not supported and were ignored")
    if panel.get("prefix") or panel.get("postfix"):
        warnings.append(f"{where}: prefix/postfix are not supported and were ignored")
    gauge = obj(panel.get("gauge"))
    if gauge.get("show"):
        for key, src in (("min", "minValue"), ("max", "maxValue")):
            if _num(gauge.get(src)) is not None:
                field[key] = _num(gauge.get(src))
        return "gauge", {"reduce": reduce, "showThresholdMarkers": gauge.get("thresholdMarkers", True) is not False}, \
            field
    color_mode = "background" if panel.get("colorBackground") else "value" if panel.get("colorValue") else "none"
    sparkline = obj(panel.get("sparkline"))
    return "stat", {"reduce": reduce, "colorMode": color_mode,
                    "graphMode": "area" if sparkline.get("show") else "none"}, field


def _calc(panel: dict[str, Any], where: str, warnings: Warnings) -> str:
    options = obj(panel.get("options"))
    reduce_options = obj(options.get("reduceOptions"))
    calcs = seq(reduce_options.get("calcs"))
    return _reduce(calcs[0] if calcs else None, where, warnings)


def _options(panel: dict[str, Any]) -> dict[str, Any]:
    options = panel.get("options")
    return obj(options)


def _placeholder(kind: str, message: str) -> tuple[str, dict[str, Any]]:
    return "placeholder", {"originalType": kind, "message": message}


def import_panel(raw: dict[str, Any], where: str, warnings: Warnings) -> dict[str, Any]:
    """One Grafana panel (not a row) as a tsdb panel; ``where`` names it in warnings."""
    kind = str(raw.get("type") or "")
    if not kind and raw.get("libraryPanel"):
        kind = "library-panel"
    title = raw.get("title")
    where = f"{where} ({title!r})" if isinstance(title, str) and title else where
    options: dict[str, Any] = {}
    field = _field_config(raw)
    grafana = _options(raw)
    if kind in ("timeseries", "graph", "barchart"):
        if kind == "graph":
            options, legacy = _graph(raw, where, warnings)
            field = {**legacy, **field}
        else:
            options = _timeseries_options(raw)
        new_type = "timeseries"
        if kind == "barchart":
            if any(isinstance(t, dict) and isinstance(t.get("expr"), str) for t in raw.get("targets") or []):
                options["drawStyle"] = "bars"
                warnings.append(f"{where}: barchart converted to a timeseries panel drawn as bars")
            else:
                new_type, options = _placeholder(kind, "Grafana barchart without PromQL targets cannot be converted")
                warnings.append(f"{where}: barchart without PromQL targets became a placeholder")
    elif kind == "singlestat":
        new_type, options, legacy = _singlestat(raw, where, warnings)
        field = {**legacy, **field}
    elif kind == "stat":
        new_type = kind
        color = grafana.get("colorMode")
        options = {"reduce": _calc(raw, where, warnings),
                   "colorMode": "background" if color in ("background", "background_solid") else
                   "none" if color == "none" else "value",
                   "graphMode": "none" if grafana.get("graphMode") == "none" else "area"}
    elif kind == "gauge":
        new_type = kind
        options = {"reduce": _calc(raw, where, warnings),
                   "showThresholdMarkers": grafana.get("showThresholdMarkers", True) is not False}
    elif kind == "bargauge":
        new_type = kind
        display = grafana.get("displayMode")
        options = {"reduce": _calc(raw, where, warnings),
                   "orientation": "vertical" if grafana.get("orientation") == "vertical" else "horizontal",
                   "displayMode": display if display in ("gradient", "lcd") else "basic"}
    elif kind in ("table", "table-old"):
        new_type = "table"
        sort_by = [{"displayName": str(s.get("displayName") or ""), "desc": bool(s.get("desc"))}
                   for s in grafana.get("sortBy") or [] if isinstance(s, dict)]
        options = {"showHeader": grafana.get("showHeader", True) is not False, "sortBy": sort_by}
        if kind == "table-old" and raw.get("styles"):
            warnings.append(f"{where}: table-old column styles are not supported and were ignored")
    elif kind == "heatmap":
        new_type = kind
        y_axis = grafana.get("yAxis") if isinstance(grafana.get("yAxis"), dict) else None
        legacy_axis = obj(raw.get("yAxis"))
        unit = (y_axis or {}).get("unit") or legacy_axis.get("format") or ""
        options = {"yAxisUnit": str(unit)}
    elif kind == "text":
        new_type = kind
        mode = grafana.get("mode", raw.get("mode", "markdown"))
        content = grafana.get("content", raw.get("content", ""))
        content = content if isinstance(content, str) else ""
        if mode == "code":
            content, mode = f"```\n{content}\n```", "markdown"
        options = {"mode": "html" if mode == "html" else "markdown", "content": content}
    else:
        new_type, options = _placeholder(kind, unsupported_message(kind))
        warnings.append(f"{where}: {unsupported_message(kind)}")
    overrides = obj(raw.get("fieldConfig")).get("overrides")
    if overrides and new_type != "placeholder":
        warnings.append(f"{where}: fieldConfig.overrides are not supported and were ignored")
    if raw.get("transformations") and new_type != "placeholder":
        warnings.append(f"{where}: transformations are not supported and were ignored")
    panel: dict[str, Any] = {"type": new_type, "title": str(title or ""),
                             "description": str(raw.get("description") or ""),
                             "gridPos": grid_pos(raw.get("gridPos")), "targets": _targets(raw, where, warnings),
                             "fieldConfig": field, "options": options, "links": _panel_links(raw)}
    pid = _int(raw.get("id"))
    if pid is not None and pid > 0:
        panel["id"] = pid
    repeat = raw.get("repeat")
    panel["repeat"] = repeat if isinstance(repeat, str) and repeat else None
    max_per_row = _int(raw.get("maxPerRow"))
    panel["maxPerRow"] = max_per_row if max_per_row and max_per_row > 0 else None
    return panel


def _panel_links(raw: dict[str, Any]) -> list[dict[str, Any]]:
    links = seq(raw.get("links"))
    return [{"title": str(link.get("title") or ""), "url": str(link.get("url") or ""),
             "targetBlank": bool(link.get("targetBlank"))}
            for link in links if isinstance(link, dict) and link.get("url")]


def _export_targets(panel: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for target in panel.get("targets") or []:
        item = {"refId": target["refId"], "datasource": dict(DATASOURCE), "editorMode": "code",
                "expr": target["expr"], "legendFormat": target["legendFormat"], "interval": target["interval"],
                "instant": target["instant"], "range": not target["instant"], "hide": target["hide"]}
        if target.get("format"):
            item["format"] = target["format"]
        out.append(item)
    return out


def export_panel(panel: dict[str, Any]) -> dict[str, Any]:
    """A tsdb panel as Grafana 10+ writes it (rows' children included)."""
    kind = panel["type"]
    out: dict[str, Any] = {"id": panel["id"], "type": kind, "title": panel["title"],
                           "description": panel["description"], "gridPos": dict(panel["gridPos"])}
    if panel.get("repeat"):
        out["repeat"] = panel["repeat"]
    if panel.get("maxPerRow"):
        out["maxPerRow"] = panel["maxPerRow"]
    if kind == "row":
        out["collapsed"] = panel["collapsed"]
        out["panels"] = [export_panel(child) for child in panel.get("panels") or []]
        return out
    options = panel["options"]
    defaults: dict[str, Any] = {key: panel["fieldConfig"][key] for key in _FIELD_KEYS if key in panel["fieldConfig"]}
    grafana: dict[str, Any] = {}
    if kind == "timeseries":
        legend = options.get("legend") or {}
        defaults["custom"] = {"drawStyle": options.get("drawStyle", "line"),
                              "stacking": {"mode": options.get("stacking", "none"), "group": "A"},
                              "fillOpacity": options.get("fillOpacity", 0), "lineWidth": options.get("lineWidth", 1)}
        grafana = {"legend": {"showLegend": legend.get("show", True), "placement": legend.get("placement", "bottom"),
                              "displayMode": legend.get("displayMode", "list"),
                              "calcs": list(legend.get("calcs") or [])},
                   "tooltip": {"mode": (options.get("tooltip") or {}).get("mode", "single"), "sort": "none"}}
    elif kind in ("stat", "gauge", "bargauge"):
        grafana = {"reduceOptions": {"calcs": [options.get("reduce", "lastNotNull")], "fields": "", "values": False}}
        grafana.update({key: value for key, value in options.items() if key != "reduce"})
    elif kind == "table":
        grafana = {"showHeader": options.get("showHeader", True), "sortBy": list(options.get("sortBy") or [])}
    elif kind == "heatmap":
        grafana = {"calculate": False, "yAxis": {"unit": options.get("yAxisUnit", "")}}
    elif kind == "text":
        grafana = {"mode": options.get("mode", "markdown"), "content": options.get("content", "")}
    elif kind == "placeholder":
        out["type"] = options.get("originalType") or "placeholder"
        grafana = {}
    out.update({"datasource": dict(DATASOURCE), "targets": _export_targets(panel),
                "fieldConfig": {"defaults": defaults, "overrides": []}, "options": grafana,
                "links": [dict(link) for link in panel.get("links") or []]})
    return out
