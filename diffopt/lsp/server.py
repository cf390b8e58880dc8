"""The diffopt language server: pygls 2 glue around ``diffopt.lsp.analysis``.

Publishes the checker's diagnostics when a document is opened, changed or
saved (an empty list once it is clean, so the editor clears them), answers
hover, go-to-definition and whole-document formatting. Each document's last
analysis is kept per URI so hover and definition reuse the checked problem.
Only pygls's public API is used (``LanguageServer``, ``@server.feature``,
``workspace.get_text_document``, ``text_document_publish_diagnostics``).
"""

from __future__ import annotations

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from diffopt import __version__
from diffopt.lsp import analysis
from diffopt.lsp.positions import end_of


class DopLanguageServer(LanguageServer):
    """A LanguageServer with the last analysis of each open document."""

    def __init__(self) -> None:
        super().__init__("diffopt", __version__,
                         text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.analyses: dict[str, analysis.Analysis] = {}

    def encoding(self) -> str:
        """The position encoding agreed with the client ("utf-16" unless it asked otherwise)."""
        chosen = getattr(self.server_capabilities, "position_encoding", None)
        return str(getattr(chosen, "value", chosen) or "utf-16")

    def analyze(self, uri: str) -> analysis.Analysis:
        document = self.workspace.get_text_document(uri)
        path = document.path or uri
        result = analysis.analyze(document.source, path, self.encoding())
        self.analyses[uri] = result
        return result

    def current(self, uri: str) -> analysis.Analysis:
        document = self.workspace.get_text_document(uri)
        known = self.analyses.get(uri)
        if known is not None and known.text == document.source:
            return known
        return self.analyze(uri)

    def publish(self, uri: str, version: int | None = None) -> None:
        result = self.analyze(uri)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=version,
            diagnostics=[_diagnostic(d) for d in result.diagnostics]))


def _position(pair) -> types.Position:
    return types.Position(line=pair[0], character=pair[1])


def _range(pair) -> types.Range:
    return types.Range(start=_position(pair[0]), end=_position(pair[1]))


def _diagnostic(found: dict) -> types.Diagnostic:
    return types.Diagnostic(range=_range(found["range"]), message=found["message"],
                            severity=types.DiagnosticSeverity(found["severity"]),
                            source=found["source"])


def make_server() -> DopLanguageServer:
    """A fresh server with every feature registered."""
    server = DopLanguageServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DopLanguageServer, params: types.DidOpenTextDocumentParams):
        ls.publish(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DopLanguageServer, params: types.DidChangeTextDocumentParams):
        ls.publish(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: DopLanguageServer, params: types.DidSaveTextDocumentParams):
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DopLanguageServer, params: types.DidCloseTextDocumentParams):
        ls.analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=params.text_document.uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: DopLanguageServer, params: types.HoverParams):
        result = ls.current(params.text_document.uri)
        text = analysis.hover(result, params.position.line, params.position.character)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                        value=text))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: DopLanguageServer, params: types.DefinitionParams):
        result = ls.current(params.text_document.uri)
        found = analysis.definition(result, params.position.line, params.position.character)
        if found is None:
            return None
        return types.Location(uri=params.text_document.uri, range=_range(found))

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: DopLanguageServer, params: types.DocumentFormattingParams):
        document = ls.workspace.get_text_document(params.text_document.uri)
        text = document.source
        formatted = analysis.format_text(text, document.path or params.text_document.uri)
        if formatted is None or formatted == text:
            return []
        whole = ((0, 0), end_of(text.split("\n"), ls.encoding()))
        return [types.TextEdit(range=_range(whole), new_text=formatted)]

    return server


def run_stdio() -> None:
    """Serve one client on standard input and output until it exits."""
    make_server().start_io()
