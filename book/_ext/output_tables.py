"""Number the tables that notebook cells print as tables, not as figures.

A code cell's output gets a caption and a label through its ``mystnb.figure`` metadata, and
MyST-NB wraps it in a figure node, so a results table named ``tbl-...`` would be numbered
"Fig. 4.1" beside the real figures. This transform gives such figures a node class of their
own, enumerated as ``table``: they are numbered "Table 4.1" in one sequence with the
``list-table`` tables, and ``{numref}`` says "Table". They are drawn as figures.
"""
from docutils import nodes
from sphinx.transforms import SphinxTransform

PREFIX = "tbl-"


class output_table(nodes.figure):  # noqa: N801 (docutils names nodes in lower case)
    """A cell output that holds a table: a figure node, numbered with the tables."""


class OutputTables(SphinxTransform):
    """Turn every figure whose label starts with ``tbl-`` into an :class:`output_table`."""

    default_priority = 200

    def apply(self, **kwargs):
        for fig in list(self.document.findall(nodes.figure)):
            if type(fig) is nodes.figure and any(n.startswith(PREFIX) for n in fig["names"]):
                # in place: the document's ids and the std domain's labels point at this node
                fig.__class__ = output_table


def _as_figure(translator_path):
    module, cls = translator_path.rsplit(".", 1)
    translator = getattr(__import__(module, fromlist=[cls]), cls)
    return translator.visit_figure, translator.depart_figure


def setup(app):
    writers = {"html": "sphinx.writers.html5.HTML5Translator",
               "latex": "sphinx.writers.latex.LaTeXTranslator",
               "text": "sphinx.writers.text.TextTranslator",
               "man": "sphinx.writers.manpage.ManualPageTranslator",
               "texinfo": "sphinx.writers.texinfo.TexinfoTranslator"}
    app.add_enumerable_node(output_table, "table",
                            **{name: _as_figure(path) for name, path in writers.items()})
    app.add_transform(OutputTables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
