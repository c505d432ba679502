"""The apps depend one way and share no `_private` names (README "## Layout").

`.importlinter` holds the layers contract; these tests run it with the suite, so an import that points
up a layer, or a new import circle inside an app, is a red test rather than a review comment.
Import-linter has no rule for names, so the `_name` check walks the source with `ast`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fluxbill", "apikeys", "metering", "catalog", "customers", "invoicing", "desk")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def run_lint_imports(*, cwd: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path) -> list[str]:
    """`from x import _name` and `import x._module` in one file, as "file:line: what"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            for alias in node.names:
                if is_private(alias.name):
                    found.append(f"{path}:{node.lineno}: from {'.' * node.level}{node.module or ''} import {alias.name}")
            if node.module and any(is_private(part) for part in node.module.split(".")):
                found.append(f"{path}:{node.lineno}: from {'.' * node.level}{node.module} import …")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(is_private(part) for part in alias.name.split(".")):
                    found.append(f"{path}:{node.lineno}: import {alias.name}")
    return found


def private_imports_under(root: Path, packages) -> list[str]:
    return [hit for package in packages for path in sorted((root / package).rglob("*.py")) for hit in private_imports(path)]


def test_import_contracts_are_kept():
    result = run_lint_imports(cwd=ROOT, config=ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_private_name_is_imported_from_another_module():
    assert private_imports_under(ROOT, PACKAGES) == []


def test_a_layer_importing_upward_breaks_the_contract(tmp_path):
    # The same runner on a two-package project whose lower layer imports the upper one must fail,
    # so a green run above means the contract was checked, not that nothing ran.
    (tmp_path / "high").mkdir()
    (tmp_path / "high" / "__init__.py").write_text("")
    (tmp_path / "low").mkdir()
    (tmp_path / "low" / "__init__.py").write_text("import high\n")
    config = tmp_path / ".importlinter"
    config.write_text(
        "[importlinter]\nroot_packages =\n    high\n    low\n\n"
        "[importlinter:contract:layers]\nname = layers\ntype = layers\nlayers =\n    high\n    low\n"
    )
    result = run_lint_imports(cwd=tmp_path, config=config)
    assert result.returncode != 0
    assert "low is not allowed to import high" in result.stdout


def test_a_private_name_imported_across_modules_is_found(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.py").write_text("def _helper():\n    pass\n")
    (tmp_path / "app" / "b.py").write_text(
        "from __future__ import annotations\nfrom .a import _helper\nfrom app import __version__\nfrom . import env as _env\n"
    )
    assert private_imports_under(tmp_path, ["app"]) == [f"{tmp_path / 'app' / 'b.py'}:2: from .a import _helper"]
