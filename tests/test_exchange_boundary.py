"""Exchange knowledge lives in hftctl/exchanges/ only: no exchange name, host, secure URL or API
path in code anywhere else, and no import of an exchange's folder except through the registry.

Docstrings and comments are documentation and may name exchanges; string literals, f-strings,
identifiers and imports are code and may not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hftctl import exchanges

PACKAGE = Path(__file__).resolve().parent.parent / "hftctl"
EXCHANGE_DIR = PACKAGE / "exchanges"


def _forbidden() -> list[str]:
    words = {"binance", "bybit", *exchanges.NAMES}
    for d in exchanges.DESCRIPTORS.values():
        words |= d.venues.test_hosts() | d.venues.money_hosts()
    # API path prefixes of every exchange (REST and websocket routes).
    paths = {"/fapi/", "/dapi/", "/api/v3/", "/v5/", "/ws-api/", "/ws-fapi/"}
    return sorted(words | paths | {"https://", "wss://"}, key=len, reverse=True)


FORBIDDEN = re.compile("|".join(re.escape(w) for w in _forbidden()), re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    docs = _docstrings(tree)
    out = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            text = node.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("hftctl.exchanges.") and node.module.split(".")[2] in {"binance", "bybit"}:
                out.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: imports {node.module}")
            continue
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(("hftctl.exchanges.binance", "hftctl.exchanges.bybit")):
                    out.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: imports {alias.name}")
            continue
        if text is not None:
            m = FORBIDDEN.search(text)
            if m:
                out.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {m.group(0)!r} in {text[:60]!r}")
    return out


def test_no_exchange_knowledge_outside_the_exchange_folders():
    files = [p for p in PACKAGE.rglob("*.py") if EXCHANGE_DIR not in p.parents]
    assert len(files) > 50
    found = [v for p in sorted(files) for v in _violations(p)]
    assert not found, "exchange knowledge outside hftctl/exchanges/:\n" + "\n".join(found)


def test_the_check_sees_what_it_looks_for(tmp_path):
    """The scanner itself: a planted name, URL, path and import are found; docs are not."""
    planted = tmp_path / "planted.py"
    planted.write_text('"""Mentions binancefutures in a docstring: fine."""\n'
                       "# bybit in a comment: fine\n"
                       "from hftctl.exchanges.bybit.client import BybitClient\n"
                       "URL = f'wss://{host}/x'\n"
                       "PATH = '/fapi/v1/order'\n"
                       "def use_binancespot():\n    return 'fstream.binancefuture.com'\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        found = _violations(planted)
    finally:
        PACKAGE = saved
    assert len(found) == 5, found
    assert not any("docstring" in f or "comment" in f for f in found)
