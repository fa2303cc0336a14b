"""How the chapters report a result: a number over seeds, a difference of two, a table.

Every chapter that trains models compares seeds. These helpers are the one place where that
is done, so that "0.278 ± 0.020" means the same everywhere: the mean over seeds ± the sample
standard deviation (``ddof = 1``), and a difference of two configurations comes with its
standard error and Welch's t-test (unequal variances), two-sided. :func:`html_table` shows a
table in a box that scrolls sideways on a narrow page (the book's phone-width check).
Nothing here imports the rest of ``gl``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["pm", "pm_of", "welch", "welch_p", "welch_ci", "html_table"]


def pm(mean, std=None, digits=3) -> str:
    """``"mean ± std"`` to ``digits`` decimals, or the mean alone when ``std`` is None (one
    seed)."""
    if std is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _sample(x, name):
    x = np.asarray(x, dtype=float).ravel()
    if x.size < 2:
        raise ValueError(f"{name}: expected at least 2 values (seeds) for a standard deviation, "
                         f"got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected finite values, got {x.tolist()}")
    return x


def pm_of(sample, digits=3) -> str:
    """:func:`pm` of a sample of at least two values: its mean ± its standard deviation
    (``ddof = 1``)."""
    x = _sample(sample, "sample")
    return pm(x.mean(), x.std(ddof=1), digits)


def welch(x, y) -> tuple[float, float, float]:
    """``(mean(x) - mean(y), its standard error, Welch-Satterthwaite degrees of freedom)``.

    The standard error is ``sqrt(var(x)/n_x + var(y)/n_y)`` with sample variances; the degrees
    of freedom ``(v_x + v_y)² / (v_x²/(n_x - 1) + v_y²/(n_y - 1))``, ``v = var/n``.
    """
    x, y = _sample(x, "x"), _sample(y, "y")
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if vx + vy == 0:
        return float(x.mean() - y.mean()), 0.0, float("inf")
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    return float(x.mean() - y.mean()), float(np.sqrt(vx + vy)), float(dof)


def welch_p(x, y) -> float:
    """Welch's t-test (unequal variances) of ``mean(x) = mean(y)``: the two-sided p-value."""
    from scipy import stats  # a dependency of JAX; imported where it is used

    diff, se, dof = welch(x, y)
    if se == 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * stats.t.sf(abs(diff) / se, dof))


def welch_ci(x, y, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` confidence interval of ``mean(x) - mean(y)`` from Welch's t (the
    difference ± the t quantile at :func:`welch`'s degrees of freedom times its standard
    error): the differences the two samples cannot rule out."""
    from scipy import stats

    if not 0 < level < 1:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    diff, se, dof = welch(x, y)
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    return diff - half, diff + half


def html_table(header, rows, notes=()):
    """A table as HTML (``IPython.display.HTML``), in a box that scrolls sideways on a narrow
    page; ``notes`` are small paragraphs under it. Cells are written as given (they may hold
    markup such as ``<sup>a</sup>`` or ``<code>``), so pass text from files through
    :func:`html.escape` first. A row with another number of cells than ``header`` is a
    ``ValueError``."""
    from IPython.display import HTML

    if any(len(r) != len(header) for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
        raise ValueError(f"rows[{bad}]: expected {len(header)} cells (the header's), "
                         f"got {len(rows[bad])}")
    cells = lambda tag, row: "".join(f"<{tag}>{x}</{tag}>" for x in row)  # noqa: E731
    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    foot = "".join(f'<p style="font-size:smaller">{n}</p>' for n in notes)
    return HTML(f'<div style="overflow-x:auto"><table><thead><tr>{cells("th", header)}'
                f"</tr></thead><tbody>{body}</tbody></table>{foot}</div>")
