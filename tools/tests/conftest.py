"""pytest setup for tools/tests: tools/ on the import path, and a table of the float32
module's error against the float64 eager model per family at the end of the run."""
import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)

def pytest_configure(config):
    # torch 2.11 marks torch.jit.save/load deprecated; TorchScript is the format effprobe reads.
    config.addinivalue_line("filterwarnings", "ignore:`torch.jit.:DeprecationWarning")


# family -> dict of figures, filled by test_export_backbone.py
FAMILY_FIGURES = {}


def pytest_terminal_summary(terminalreporter):
    if not FAMILY_FIGURES:
        return
    terminalreporter.section("exported backbones (random weights, fp32 CPU)")
    terminalreporter.write_line(
        f"{'model':40s} {'input':>9s} {'D':>5s} {'export s':>9s} {'module vs eager32':>18s} "
        f"{'module vs eager64':>18s} {'eager32 vs 64':>14s} {'spread':>7s}")
    for name, row in FAMILY_FIGURES.items():
        terminalreporter.write_line(
            f"{name:40s} {row['input']:>9s} {row['dim']:5d} {row['export_seconds']:9.1f} "
            f"{row['module_vs_eager32']:18.3g} {row['module_vs_eager64']:18.3g} {row['eager32_vs_64']:14.3g} "
            f"{row['spread']:7.3f}")


def skip_or_fail(request, what):
    """A missing test resource: a failure under CI=true, else a visible skip recorded in
    $EFFPROBE_SKIP_LOG (as crates/testkit's skip_or_fail does for the Rust tests)."""
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(f"required test resource missing under CI=true: {what}")
    log = os.environ.get("EFFPROBE_SKIP_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"pytest::{request.node.nodeid}: {what}\n")
    pytest.skip(what)
