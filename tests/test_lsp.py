"""The language server: its analysis functions directly, and the server over pipes.

The analysis (diffopt.lsp.analysis, diffopt.lsp.positions) needs no pygls;
the end-to-end test starts ``python -m diffopt lsp`` and speaks JSON-RPC to
it with Content-Length framing, every read bounded in time. Skipped where
pygls is not installed.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from diffopt.lsp import analysis
from diffopt.lsp.positions import from_lsp, lines_of, to_lsp, utf16_length

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 20.0

BAD = "param x = 1\nlet 𝑥𝑥 = 2  # é\nminimize (x - 𝑥𝑥)^2 + yy\n"
FIXED = "param x = 1\nlet 𝑥𝑥 = 2  # é\nminimize (x - 𝑥𝑥)^2\n"
PROBLEM = """const a = 1, b = [1, 2, 3]
param w[3] = 0.5, s = 2
let r = w - b
def sq(u) = u * u
minimize sum(sq(r)) + a * s^2
"""


# ------------------------------------------------------------------ positions


def test_positions_count_utf16_code_units():
    lines = lines_of("aé𝑥b\n")
    assert utf16_length("aé𝑥b") == 5
    assert to_lsp(lines, 1, 4) == (0, 4)  # 'b' is the 4th character, after a surrogate pair
    assert from_lsp(lines, 0, 4) == (0, 3)
    assert to_lsp(lines, 1, 4, "utf-8") == (0, 7)
    assert to_lsp(lines, 1, 4, "utf-32") == (0, 3)
    assert from_lsp(lines, 9, 99) == (1, 0)  # clamped


def test_a_bad_file_has_one_diagnostic_at_the_name_and_a_fixed_one_none():
    found = analysis.diagnostics(BAD, "/tmp/bad.dop")
    assert len(found) == 1
    # "minimize (x - 𝑥𝑥)^2 + yy": yy is character 22, UTF-16 unit 24
    assert found[0]["range"] == ((2, 24), (2, 26))
    assert found[0]["message"].splitlines()[0] == "unknown name 'yy'"
    assert found[0]["severity"] == analysis.ERROR
    assert analysis.diagnostics(FIXED, "/tmp/bad.dop") == []


def test_diagnostics_carry_the_clis_message_and_hint():
    from diffopt import api

    text = "param w[3] = 1\nminimize w\n"
    found = analysis.diagnostics(text, "/tmp/shape.dop")
    with pytest.raises(Exception) as raised:
        api.load("-", stdin_text=text)
    assert found[0]["message"].splitlines()[0] == raised.value.message
    assert f"help: {raised.value.hint}" in found[0]["message"]
    span = raised.value.span
    assert found[0]["range"] == ((span.line - 1, span.col - 1), (span.end_line - 1,
                                                                  span.end_col - 1))


def test_a_syntax_error_is_a_diagnostic():
    found = analysis.diagnostics("param x = \nminimize x\n", "/tmp/s.dop")
    assert len(found) == 1 and found[0]["severity"] == analysis.ERROR


def test_relative_csv_paths_resolve_against_the_document(tmp_path):
    (tmp_path / "t.csv").write_text("u,v\n1,2\n3,4\n")
    text = 'data t = csv("t.csv")\nparam k = 1\nminimize sum((k * t.u - t.v)^2)\n'
    assert analysis.diagnostics(text, str(tmp_path / "p.dop")) == []
    found = analysis.diagnostics(text, str(tmp_path / "sub" / "p.dop"))
    assert len(found) == 1 and "t.csv" in found[0]["message"]


# ---------------------------------------------------------------------- hover


def _at(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """The LSP position of the ``nth`` occurrence of ``needle``."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start)
    return line, start - (text.rfind("\n", 0, start) + 1)


def test_hover_on_a_param_shows_its_shape_and_start():
    result = analysis.analyze(PROBLEM, "/tmp/p.dop")
    text = analysis.hover(result, *_at(PROBLEM, "w", 1))
    assert "param `w`" in text and "(3,)" in text and "0.5" in text


def test_hover_on_a_const_shows_its_value_and_a_let_its_shape():
    result = analysis.analyze(PROBLEM, "/tmp/p.dop")
    assert "value [1, 2, 3]" in analysis.hover(result, *_at(PROBLEM, "b", 1))
    let = analysis.hover(result, *_at(PROBLEM, "r", 1))
    assert "let `r`" in let and "(3,)" in let and "[-0.5, -1.5, -2.5]" in let


def test_hover_on_a_builtin_shows_its_doc_line():
    from diffopt.ops.registry import BUILTINS

    result = analysis.analyze(PROBLEM, "/tmp/p.dop")
    text = analysis.hover(result, *_at(PROBLEM, "sum"))
    assert "built-in function" in text
    assert BUILTINS["sum"].doc.strip().splitlines()[0] in text


def test_hover_outside_a_name_and_in_a_comment_is_nothing():
    text = "param x = 1  # x\nminimize x\n"
    result = analysis.analyze(text, "/tmp/c.dop")
    assert analysis.hover(result, 0, 15) is None
    assert analysis.hover(result, 0, 9) is None


# ----------------------------------------------------------------- definition


def test_definition_goes_to_the_declared_name():
    result = analysis.analyze(PROBLEM, "/tmp/p.dop")
    assert analysis.definition(result, *_at(PROBLEM, "r", 1)) == ((2, 4), (2, 5))
    assert analysis.definition(result, *_at(PROBLEM, "sq", 1)) == ((3, 4), (3, 6))
    # a def parameter goes to its place in the parameter list
    assert analysis.definition(result, *_at(PROBLEM, "u", 1)) == ((3, 7), (3, 8))
    assert analysis.definition(result, *_at(PROBLEM, "sum")) is None


def test_definition_works_on_a_file_that_does_not_check():
    text = "param x = 1\nminimize x + yy\n"
    result = analysis.analyze(text, "/tmp/d.dop")
    assert analysis.definition(result, 1, 9) == ((0, 6), (0, 7))


# ----------------------------------------------------------------- formatting


def test_formatting_gives_the_canonical_text_or_nothing_on_a_syntax_error():
    from diffopt.syntax.fmt import format_program
    from diffopt.syntax.parser import decode, parse

    messy = "param   x=1\nminimize (x-2)^2"
    source = decode(messy.encode(), "m.dop")
    assert analysis.format_text(messy, "m.dop") == format_program(parse(source), source)
    assert analysis.format_text("minimize (", "m.dop") is None


# ------------------------------------------------------------- over the pipes


class _Client:
    """JSON-RPC with Content-Length framing to a server process; reads time out."""

    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "diffopt", "lsp"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        stream = self.process.stdout
        while True:
            headers = {}
            while True:
                line = stream.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                key, _, value = line.decode("ascii").partition(":")
                headers[key.strip().lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            self.messages.put(json.loads(body))

    def send(self, method: str, params=None, request: bool = False):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return message.get("id")

    def wait_for(self, predicate):
        while True:
            try:
                message = self.messages.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError("the server said nothing for 20 s") from None
            assert message is not None, self.process.stderr.read().decode()
            if predicate(message):
                return message

    def request(self, method: str, params):
        ident = self.send(method, params, request=True)
        return self.wait_for(lambda m: m.get("id") == ident and "method" not in m)

    def diagnostics(self, uri: str) -> list:
        message = self.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                                and m["params"]["uri"] == uri)
        return message["params"]["diagnostics"]

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture
def client():
    pytest.importorskip("pygls")
    started = _Client()
    yield started
    started.close()


def test_the_server_publishes_a_diagnostic_then_clears_it(client, tmp_path):
    uri = (tmp_path / "bad.dop").as_uri()
    reply = client.request("initialize", {"processId": None, "rootUri": None,
                                          "capabilities": {}})
    capabilities = reply["result"]["capabilities"]
    assert capabilities["hoverProvider"] and capabilities["definitionProvider"]
    assert capabilities["documentFormattingProvider"]
    client.send("initialized", {})
    client.send("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "dop", "version": 1, "text": BAD}})
    found = client.diagnostics(uri)
    assert len(found) == 1
    assert found[0]["range"] == {"start": {"line": 2, "character": 24},
                                 "end": {"line": 2, "character": 26}}
    assert found[0]["message"] == "unknown name 'yy'"
    assert found[0]["severity"] == 1

    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                  "position": {"line": 0, "character": 6}})
    assert "param `x`" in hover["result"]["contents"]["value"]

    client.send("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"text": FIXED}]})
    assert client.diagnostics(uri) == []

    where = client.request("textDocument/definition", {
        "textDocument": {"uri": uri}, "position": {"line": 2, "character": 10}})
    assert where["result"]["range"]["start"] == {"line": 0, "character": 6}
    edits = client.request("textDocument/formatting", {
        "textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}})
    assert isinstance(edits["result"], list)

    assert client.request("shutdown", None)["result"] is None
    client.send("exit")
    assert client.process.wait(timeout=TIMEOUT) == 0


def test_lsp_without_pygls_says_which_extra_to_install(tmp_path):
    blocker = tmp_path / "pygls"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no pygls here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", (
        "import sys, importlib.util as u; real = u.find_spec; "
        "u.find_spec = lambda n, *a: None if n == 'pygls' else real(n, *a); "
        "sys.argv = ['diffopt', 'lsp']; from diffopt.entry import main; main()")],
        capture_output=True, text=True, env=env, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr == "diffopt lsp needs the optional extra: pip install 'diffopt-cli[lsp]'\n"
    assert "Traceback" not in done.stderr


def test_a_huge_file_is_only_parsed_and_says_so():
    text = "param x = 1\n" + "# padding\n" * 110_000 + "minimize x^2\n"
    found = analysis.diagnostics(text, "/tmp/huge.dop")
    assert [d["severity"] for d in found] == [analysis.INFORMATION]
    assert "over 1 MB" in found[0]["message"]


def test_an_empty_document_gets_the_clis_empty_file_error():
    found = analysis.diagnostics("\n", "/tmp/empty.dop")
    assert len(found) == 1 and found[0]["message"].startswith("the file is empty")


def test_sigterm_ends_the_server(client):
    import signal

    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    client.process.send_signal(signal.SIGTERM)
    assert client.process.wait(timeout=TIMEOUT) == -signal.SIGTERM
