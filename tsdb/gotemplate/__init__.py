"""Go's text/template for Prometheus and Alertmanager templates: lexer, parse tree, execution, Go's fmt
and the builtin functions. The entry point is ``tsdb.gotemplate.template.TemplateSet``."""
