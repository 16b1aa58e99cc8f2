"""The Sloth v0.16.0 reference cases in tests/slo/data (see its README) and how to render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tsdb.gotemplate.template import TemplateSet
from tsdb.slo.render import render_documents, sloth_header
from tsdb.slo.sloth import Options, generate_all
from tsdb.slo.spec import parse_specs

DATA = Path(__file__).parent / "data"
VERSION = "v0.16.0-test"


@dataclass(frozen=True)
class Case:
    """A spec file, the rule file Sloth wrote for it, and the generation options Sloth was run with."""

    spec: str
    expected: str
    options: Options = field(default_factory=lambda: Options(version=VERSION))

    def expected_text(self) -> str:
        text = (DATA / self.expected).read_text()
        if not self.expected.endswith(".tpl"):
            return text
        return TemplateSet().execute_text(text, {"version": self.options.version})

    def generated_text(self) -> str:
        specs = parse_specs((DATA / self.spec).read_text(), self.spec)
        return render_documents(generate_all(specs, self.options), sloth_header(self.options.version))


_EXAMPLES = Options(version="dev", extra_labels={"cmd": "examplesgen.sh"})
CASES = [
    Case("in-base.yaml", "out-base.yaml.tpl"),
    Case("in-base.yaml", "out-base-28d.yaml.tpl", Options(version=VERSION, period_s=28 * 86400)),
    Case("in-base.yaml", "out-base-extra-labels.yaml.tpl",
         Options(version=VERSION, extra_labels={"exk1": "exv1", "exk2": "exv2"})),
    Case("in-base.yaml", "out-base-no-alerts.yaml.tpl", Options(version=VERSION, disable_alerts=True)),
    Case("in-base.yaml", "out-base-no-recordings.yaml.tpl", Options(version=VERSION, disable_recordings=True)),
    Case("in-multifile.yaml", "out-multifile.yaml.tpl"),
] + [Case(f"examples/{name}", f"examples/_gen/{name}", _EXAMPLES) for name in (
    "getting-started.yml", "home-wifi.yml", "raw-home-wifi.yml", "no-alerts.yml", "kubernetes-apiserver.yml",
    "multifile.yml", "openslo-getting-started.yml", "openslo-kubernetes-apiserver.yml")] + [
    Case("in-openslo.yaml", "out-openslo.yaml.tpl")]
