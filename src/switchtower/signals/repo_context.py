"""``missing_repo_context``: the request refers to code it does not include.

References are found in the user's prose (code blocks removed): file paths, calls like
``parse_config()``, identifiers in backticks, snake_case / CamelCase identifiers, and
deictic phrases ("our codebase", "this function", "line 42", "PR #12"). Attachments are
looked for in *every* message: fenced code blocks, tool results, diffs, and runs of
code-like lines. A reference found in the attachments is satisfied; a reference not
found while *some* code is attached counts half (the attachment may be partial); with
nothing attached it counts fully. Well-known public names (``node.js``, ``os.path``,
``print()``) weigh little, since a model knows them without the repository.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from switchtower.signals.attached import attached_code
from switchtower.signals.prefilter import gated, occurrences, word_starts
from switchtower.signals.text import Prose, snippet
from switchtower.types import Signal

__all__ = ["missing_repo_context"]

_EXT = (
    r"py|pyi|ipynb|js|mjs|cjs|ts|tsx|jsx|go|rs|java|kt|kts|rb|php|cs|cpp|cc|cxx|c|h|hpp|"
    r"swift|scala|sql|ya?ml|json|toml|ini|cfg|conf|sh|bash|zsh|ps1|md|rst|html?|css|scss|"
    r"less|vue|svelte|tf|tfvars|proto|gradle|xml|lock|env|properties|txt|csv|graphql|gql|"
    r"ex|exs|erl|hs|ml|lua|pl|r|dart|m|mm|sol|dockerfile|mod|sum"
)
_DOTFILE = (
    r"(?:env|gitignore|dockerignore|eslintrc|prettierrc|babelrc|npmrc|bashrc|zshrc|editorconfig)"
)
_PATH = re.compile(
    r"(?<![\w/:.@-])(?:[\w.-]+/)*[\w-]+\.(?:" + _EXT + r")\b(?![\w/-])"
    r"|(?<![\w/:.@-])(?:\.{1,2}/)?(?:src|lib|libs|app|apps|tests?|spec|pkg|cmd|internal|"
    r"config|scripts|services|packages|modules|components|api|server|client|web|frontend|"
    r"backend|infra|deploy|migrations|handlers|utils|core|docs)/[\w./-]+"
    r"|(?<![\w/.])\." + _DOTFILE + r"(?:\.\w+)?\b"
    r"|\b(?:Cargo\.toml|package\.json|requirements\.txt|go\.mod|pom\.xml)\b"
)
#: a "." and a name after it that a ``_PATH`` match without "/" must hold: an extension
#: or a dotfile's name (the fixed file names end in extensions too), then ``\b``
_DOT_NAME = re.compile(r"\.(?:" + _EXT + "|" + _DOTFILE + r")\b")


def _spellings(alternative: str) -> set[str]:
    """The words a ``_DOT_NAME`` alternative of letters and optional letters matches
    ("ya?ml" -> yml, yaml)."""
    i = alternative.find("?")
    if i < 0:
        return {alternative}
    rest = alternative[i + 1 :]
    return _spellings(alternative[: i - 1] + rest) | _spellings(alternative[:i] + rest)


#: every name a ``_DOT_NAME`` match has after its "."
_DOT_NAMES = frozenset(
    name for alt in (_EXT + "|" + _DOTFILE.strip("(?:)")).split("|") for name in _spellings(alt)
)
#: names of build files that are also generic concepts ("how do Makefile targets work")
_GENERIC_FILE = gated(
    r"\b(?:Dockerfile|Makefile|Jenkinsfile|Procfile|Gemfile|Rakefile)\b", index=False
)
_ENDPOINT = gated(
    r"\b(?:GET|POST|PUT|PATCH|DELETE) /[\w/{}:.-]*|(?<![\w/])/(?:api|v\d+)/[\w/{}:.-]+",
    index=False,
)
#: the nouns that name a code artifact after an identifier (``_NAMED_ARTIFACT``)
_ARTIFACT_NOUNS = (
    "function", "method", "class", "module", "job", "handler", "component", "endpoint",
    "hook", "worker", "script", "service", "middleware", "decorator", "helper", "test",
    "fixture", "route", "view", "resolver", "task", "command", "flag", "option", "setting",
    "constant", "variable", "field", "prop", "package", "library", "type", "interface",
    "struct", "enum",
)  # fmt: skip
#: an identifier named as a code artifact: "the sync_accounts job", "list_invoices endpoint"
_NAMED_ARTIFACT = re.compile(
    r"\b([A-Za-z_]\w*(?:_[A-Za-z0-9]|\.[A-Za-z_]|[a-z][A-Z][a-z])[\w.]*)`? "
    r"(?:" + "|".join(_ARTIFACT_NOUNS) + r")s?\b"
)
#: identifiers next to these words name data (columns, tables), not code
_DATA_NAME = re.compile(
    r"(?:\b(?:column|table|field|index on|key|attribute|header|property|row|collection)s?"
    r"\W{0,3}$)"
)
_DATA_NAME_AFTER = re.compile(r"^\W{0,3}(?:column|table|field|key|attribute|header)s?\b")
#: the clause names a public language or library: symbols are its public API
_PUBLIC_API = re.compile(
    r"\b(?:in|with|from|of|using) (?:the )?(?:java|javascript|js|typescript|ts|python|go|"
    r"golang|rust|c\+\+|c#|kotlin|swift|ruby|php|scala|react|vue|angular|node(?:\.js)?|"
    r"numpy|pandas|django|flask|spring|\.net|linq|streams?|stdlib|standard library|"
    r"lodash|jquery|rxjs)\b"
)
#: "a new", "create", ... just before a name: the file or thing is being made; "new" and
#: "file" in the languages the sets hold ("nowy plik docker-compose.yml")
_INDEFINITE = re.compile(
    r"\b(?:a|an|new|create|generate|write|nowy|nowa|nowe|nuevo|nueva|novo|nova|neue[nrs]?|"
    r"nouveau|nouvelle|nuovo|nuova|nieuwe?)\s+(?:(?:plik|archivo|arquivo|fichier|datei|"
    r"bestand|file)\s+)?$",
    re.I,
)
#: "write a Flask endpoint GET /search": the endpoint is being made, not referred to
_CREATES = re.compile(
    r"\b(?:write|create|add|build|implement|generate|make|expose)\s+(?:a|an|new|the new)\b"
    r"[^.\n]{0,40}$",
    re.I,
)
#: "write a new `RateLimiter` class": a name right after a verb of making is being made
_MADE_NEXT = re.compile(
    r"\b(?:write|create|add|build|implement|generate|make|define|introduce)\s+(?:me\s+)?"
    r"(?:(?:a|an)\s+(?:new\s+)?|(?:the\s+)?new\s+)[`'\"]?$",
    re.I,
)
#: the request is about a database: snake_case names and ``table(col, col)`` in it are
#: most likely tables and columns (data, not code: the labelling guideline's rule)
_DB_TALK = gated(
    r"\b(?:sql|postgres(?:ql)?|mysql|sqlite|mariadb|ddl|tables?|columns?|index(?:es)?|"
    r"quer(?:y|ies)|rows|schema)\b",
    index=False,
)
#: ``name(a, b, c)``: arguments that are only bare names (a table's column list)
_NAME_LIST = re.compile(r"^\s*[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*\s*$")
#: ``task_id=7731`` / ``approved_by: on-call``: a field of a record, not a symbol
_FIELD_AFTER = re.compile(r"(?:=|:\s)\s*[\w\"'$-]")  # used with .match(text, pos)
_CALL = re.compile(r"\b([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\((?:[^()\n]{0,40})\)")
_BACKTICK = re.compile(r"`([^`\s][^`\n]{0,60})`")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_CAMEL = re.compile(r"\b(?:[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+|[a-z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)\b")
_CLASS_SUFFIX = re.compile(
    r"(?:Service|Controller|Manager|Handler|Factory|Provider|Repository|Repo|Client|Config|"
    r"Component|Module|Error|Exception|View|Model|Helper|Util|Utils|Store|Router|Middleware|"
    r"Test|Tests|Spec|Worker|Job|Task|Queue|Adapter|Builder|Parser|Serializer|Schema|Dto|"
    r"Request|Response|Context|Hook|Screen|Page|Form|Modal|Panel|Resolver|Mapper)$"
)
_DEICTIC_STRONG = gated(
    r"\b(?:in (?:the|our|this|my) (?:repo|repository|codebase|code base|monorepo|project|"
    r"source tree)|our (?:codebase|code base|repo|repository|monorepo|source code)|"
    r"(?:on |at )?lines? \d+|(?:pr|pull request|mr|merge request|issue|commit) "
    r"#?\w*\d\w*|the (?:failing|broken|flaky|red) (?:tests?|build|job|check|pipeline|ci)|"
    r"the (?:whole|entire) (?:codebase|code base|repo|repository|project|app|code)|"
    r"(?:the|our|my) (?:readme|changelog)|(?:i|we|you) (?:mentioned|showed|sent|shared|"
    r"pasted|discussed|wrote|made|changed|fixed) (?:earlier|before|above|yesterday|"
    r"last time|previously)|the (?:pull request|pr|mr|merge request|diff|patch|commit) "
    r"(?:that|which|i|we|you|from|for)|"
    r"the (?:error|stack ?trace|traceback|diff|code|snippet|function|file|patch|log) "
    r"(?:above|below|i (?:sent|pasted|shared|attached))|(?:as|like) (?:shown|attached) "
    r"(?:above|below))\b"
)
_CODE_NOUN = (
    r"(?:code|app|application|service|module|package|library|function|functions|method|"
    r"class|classes|component|endpoint|endpoints|handler|controller|script|tests?|"
    r"test suite|pipeline|config|configuration|implementation|api|backend|frontend|model|"
    r"query|file|files|helper|middleware|workflow|dockerfile|makefile|migration|hook|route|"
    r"routes|resolver|worker|job|bug|receiver|consumer|producer|listener|parser|"
    r"serializer|validator|client|server|loader|exporter|importer|scheduler|cache|layer|"
    r"schema|manifest|template|chart|playbook|suite|repo|repository|codebase)s?"
)
_DEICTIC = gated(
    r"\b(?:(?:our|my|the existing|the current) (?:[\w-]+ ){0,2}?|(?:this|that|these|those) "
    r"(?:existing |current |legacy |old |new |main |internal |custom )?)" + _CODE_NOUN + r"\b"
)
_WELL_KNOWN = re.compile(
    r"^(?:os|sys|re|json|math|time|datetime|collections|itertools|functools|typing|asyncio|"
    r"subprocess|pathlib|logging|random|np|numpy|pd|pandas|torch|tf|requests|httpx|django|"
    r"flask|fastapi|react|console|document|window|array|string|object|promise|math|list|"
    r"dict|str|int|float|set|tuple|self|this|process|fs|path|http|express|app|jquery|\$|"
    r"node|next|nuxt|vue|three|d3|chart|moment|socket|lodash|_|git|npm|pip|kubectl|docker|"
    r"angular|ember|backbone|express|nest|knockout|p5|phaser|pixi|"
    r"print|len|range|map|filter|reduce|fetch|open|main|setTimeout|setInterval|useEffect|"
    r"useState|useMemo|useCallback|useRef|async|await|sorted|sum|min|max|zip|enumerate|"
    r"isinstance|super|format|split|join|append|push|pop|slice|splice|toString|parseInt|"
    r"JSON|Object|Array|String|Promise|Math|Date)(?:$|\.)"
)
_BRANDS = frozenset(
    (
        "javascript",
        "typescript",
        "github",
        "gitlab",
        "bitbucket",
        "postgresql",
        "mysql",
        "mongodb",
        "oauth",
        "iphone",
        "ipad",
        "macos",
        "ios",
        "youtube",
        "linkedin",
        "pypi",
        "dynamodb",
        "graphql",
        "fastapi",
        "numpy",
        "pytorch",
        "tensorflow",
        "wordpress",
        "openai",
        "chatgpt",
        "jetbrains",
        "vscode",
        "cloudfront",
        "cloudwatch",
        "powershell",
        "devops",
        "nodejs",
        "nextjs",
        "webpack",
        "jupyter",
        "sqlalchemy",
        "postgres",
        "redis",
        "sqlite",
        "mariadb",
        "elasticsearch",
        "opensearch",
        "clickhouse",
        "bigquery",
        "snowflake",
        "kubernetes",
        "terraform",
        "ansible",
        "grafana",
        "kibana",
        "rabbitmq",
        "kafka",
        "webassembly",
        "websocket",
        "websockets",
        "javadoc",
        "rubygems",
        "pagerduty",
        "hubspot",
        "salesforce",
        "sendgrid",
        "mailchimp",
        "quickbooks",
        "cocoapods",
        "xcode",
        "testflight",
        "appstore",
        "playstation",
        "huggingface",
        "langchain",
        "llamaindex",
        "deepseek",
        "openapi",
        "swagger",
        "firebase",
        "supabase",
        "netlify",
        "vercel",
        "heroku",
        "digitalocean",
        "microsoft",
        "linkedin",
        "tiktok",
        "whatsapp",
        "paypal",
        "stripe",
        # Kubernetes resource kinds: public API names, not the user's code
        "cronjob",
        "statefulset",
        "daemonset",
        "configmap",
        "serviceaccount",
        "clusterrole",
        "rolebinding",
        "clusterrolebinding",
        "persistentvolume",
        "persistentvolumeclaim",
        "horizontalpodautoscaler",
        "networkpolicy",
        "poddisruptionbudget",
        "customresourcedefinition",
    )
)
#: characters of the pieces the identifier patterns match within (see ``_runs``)
_PATH_RUN = re.compile(r"[\w./-]*")
_CALL_RUN = re.compile(r"[\w$.]*")
_WORD_RUN = re.compile(r"\w*")
_IDENT_RUN = re.compile(r"[\w.]*")
_CAMEL_BUMP = re.compile(r"[a-z0-9][A-Z]")


#: each artifact noun, its plural and how it follows a name (``_artifact_matches``)
_NOUN_FORMS = tuple((noun, noun + "s", " " + noun) for noun in _ARTIFACT_NOUNS)


def _artifact_matches(raw: str, rev: str) -> list[re.Match[str]]:
    """``_NAMED_ARTIFACT.finditer(raw)``. A match is a name (a run of ``[\\w.]``), an
    optional backtick, a space and a noun (plural too) that stands as a whole word: it
    lies in the window from the start of that run to one character past the noun and
    its "s" (so ``\\b`` at the end still sees the real next character). Windows that
    overlap are joined, so a match never starts in one window and ends in another. The
    name holds a "_", a "." or an upper-case letter: a run of lower-case letters alone
    ("the handler") gets no window."""
    words = word_starts(raw).words
    n = len(raw)
    windows: list[tuple[int, int]] = []
    for noun, plural, spaced in _NOUN_FORMS:
        if noun not in words and plural not in words:
            continue
        for h in occurrences(raw, (spaced,)):
            end = h - 1 if h and raw[h - 1] == "`" else h
            start = n - _run_end(_IDENT_RUN, rev, n - end)
            name = raw[start:end]
            if name.islower() and "_" not in name and "." not in name:
                continue
            windows.append((start, min(n, h + len(spaced) + 2)))
    return _scan_windows(_NAMED_ARTIFACT, raw, _merged(windows))


#: the longest a call's match reaches past its "(": 40 argument characters and ")"
_CALL_TAIL = 42
#: the last character of a call's name, and what ends its arguments
_CALL_NAME_END = re.compile(r"[\w$]")
_CALL_ARGS_END = re.compile(r"[()\n]")


def _run_end(run: re.Pattern[str], text: str, pos: int) -> int:
    """End of the run of ``run``'s characters (``run`` is ``[...]*``) starting at ``pos``."""
    m = run.match(text, pos)
    return m.end() if m else pos


def _runs(text: str, rev: str, hits: list[int], run: re.Pattern[str]) -> list[tuple[int, int]]:
    """The maximal runs of ``run``'s characters holding each position in ``hits``
    (ascending), as ``(start, end)``, each once. ``rev`` is ``text[::-1]``."""
    out: list[tuple[int, int]] = []
    n = len(text)
    end = -1
    for i in hits:
        if i < end:
            continue
        start = n - _run_end(run, rev, n - i)
        end = _run_end(run, text, i)
        out.append((start, end))
    return out


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ascending windows with overlapping or touching ones joined."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(windows):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _scan_windows(
    pattern: re.Pattern[str], text: str, windows: list[tuple[int, int]]
) -> list[re.Match[str]]:
    """The matches of ``pattern`` in each window (``pos``/``endpos``), in order."""
    return [m for s, e in windows for m in pattern.finditer(text, s, e)]


def _path_matches(raw: str, rev: str) -> list[re.Match[str]]:
    """``_PATH.finditer(raw)``. Every match lies in one maximal run of ``[\\w./-]``
    holding a "." or "/", and no branch looks past the run except through
    ``(?<![...])`` (which sees the text before ``pos``) and ``\\b`` / ``(?![\\w/-])`` at
    its end (true both at ``endpos`` and before the non-run character that follows)."""
    # every branch holds a "/" or a "." that starts a ``_DOT_NAME`` match; the name after
    # that "." is a whole word (a non-word "." before it, ``\b`` after it), so only the
    # names among the text's words are looked for
    names = word_starts(raw).words & _DOT_NAMES
    dots = occurrences(raw, ["." + name for name in names]) if names else []
    hits = sorted([*occurrences(raw, ("/",)), *(i for i in dots if _DOT_NAME.match(raw, i))])
    return _scan_windows(_PATH, raw, _runs(raw, rev, hits, _PATH_RUN))


def _call_matches(raw: str, rev: str) -> list[re.Match[str]]:
    """``_CALL.finditer(raw)``. A match is a name (a run of ``[\\w$.]`` whose last
    character is ``[\\w$]``) right before a "(", then at most 40 characters other than
    "(", ")" and newline, then ")": that ")" is the first of those three after the "(",
    at most 41 past it. So a match lies in the window from the start of the run to just
    past that ")" (a "(" without one ends no match), and the pattern ends in ``\\)``
    (no look-ahead): cutting the text at a window's end removes no match inside it."""
    n = len(raw)
    windows: list[tuple[int, int]] = []
    for i in occurrences(raw, ("(",)):
        if not (i and _CALL_NAME_END.match(raw, i - 1)):
            continue
        close = _CALL_ARGS_END.search(raw, i + 1, i + _CALL_TAIL)
        if close is not None and close.group() == ")":
            windows.append((n - _run_end(_CALL_RUN, rev, n - i), close.end()))
    return _scan_windows(_CALL, raw, _merged(windows))


def _word_matches(
    pattern: re.Pattern[str], raw: str, rev: str, hits: list[int]
) -> list[re.Match[str]]:
    """``pattern.finditer(raw)`` for a pattern whose matches are whole ``\\w+`` words
    (``\\b`` at both ends, word characters only) holding one of the ``hits``."""
    return _scan_windows(pattern, raw, _runs(raw, rev, hits, _WORD_RUN))


#: characters stripped from a reference's key
_KEY_STRIP = "`'\". "


def _camel_hits(raw: str) -> list[int]:
    """A position in every maximal ``\\w`` run of ``raw`` that holds a ``_CAMEL_BUMP``
    (every ``_CAMEL`` match holds one). A bump is two word characters, so it lies in one
    of the text's words: each occurrence of such a word lies in a run that holds it,
    without scanning the whole text for bumps."""
    words = word_starts(raw).words
    return occurrences(raw, [w for w in words if not w.islower() and _CAMEL_BUMP.search(w)])


class _Refs:
    """The references found so far: key -> (weight, kind), the strongest one kept."""

    __slots__ = ("found", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.found: dict[str, tuple[float, str]] = {}

    def settled(self, key: str, weight: float) -> bool:
        """Adding ``key`` with at most ``weight`` cannot change what was found (a repeated
        reference then skips the checks that would only lower its weight)."""
        old = self.found.get(key.strip(_KEY_STRIP))
        return old is not None and old[0] >= weight

    def add(self, key: str, weight: float, kind: str, start: int = -1, end: int = -1) -> None:
        """Keep ``key`` with ``weight``, discounted by the context around ``start:end``."""
        key = key.strip(_KEY_STRIP)
        if len(key) < 2:
            return
        old = self.found.get(key)
        if old is not None and weight <= old[0]:
            return  # the context discounts below only lower the weight
        if start >= 0:
            raw = self.raw
            before, after = raw[max(0, start - 14) : start], raw[end : end + 12]
            if _DATA_NAME.search(before) or _DATA_NAME_AFTER.match(after):
                weight *= 0.3
            elif _PUBLIC_API.search(raw[start : start + 80]):
                weight *= 0.5
        if old is None or weight > old[0]:
            self.found[key] = (weight, kind)


def _file_refs(refs: _Refs, rev: str) -> None:
    """File paths, build files and HTTP endpoints."""
    raw = refs.raw
    for m in _path_matches(raw, rev):
        path = m.group(0)
        base = path.rsplit("/", 1)[-1]
        key = base if "/" in path else path
        if refs.settled(key, 0.6) or _INDEFINITE.search(raw[max(0, m.start() - 20) : m.start()]):
            continue
        known = _WELL_KNOWN.match(base.lower()) and path.count("/") == 0
        refs.add(key, 0.2 if known else 0.6, "file " + path)
    for m in _GENERIC_FILE.finditer(raw):
        if refs.settled(m.group(0), 0.35):
            continue
        if not _INDEFINITE.search(raw[max(0, m.start() - 10) : m.start()]):
            refs.add(m.group(0), 0.35, "file " + m.group(0))
    for m in _ENDPOINT.finditer(raw):
        if not _CREATES.search(raw[max(0, m.start() - 60) : m.start()]):
            refs.add(m.group(0), 0.55, "endpoint " + m.group(0))


def _symbol_refs(refs: _Refs, rev: str) -> None:
    """Named artifacts, calls, backticked names and snake_case / CamelCase identifiers."""
    raw = refs.raw
    # whether the request talks about a database: looked up once, and only if asked
    db_talk = cache(lambda: any(True for _ in _DB_TALK.finditer(raw.lower())))

    # every match holds " <noun>"
    for m in _artifact_matches(raw, rev):
        key = m.group(1).rsplit(".", 1)[-1]
        if _MADE_NEXT.search(raw[max(0, m.start() - 30) : m.start()]):
            continue
        if not refs.settled(key, 0.6) and not _WELL_KNOWN.match(m.group(1)):
            refs.add(key, 0.6, snippet(raw, m.start(), m.end()))
    for m in _call_matches(raw, rev):
        name = m.group(1)
        short = name.rsplit(".", 1)[-1]
        if refs.settled(short, 0.5):
            continue
        compound = "_" in name or "." in name or _CAMEL.fullmatch(name) is not None
        weight = 0.5 if compound else 0.3
        if _WELL_KNOWN.match(name):
            weight = 0.15
        args = m.group(0)[len(name) + 1 : -1]
        if _NAME_LIST.match(args) and db_talk():
            weight *= 0.3  # orders(customer_id, created_at): a table and its columns
        refs.add(short, weight, "symbol " + snippet(raw, m.start(), m.end()), m.start(), m.end())
    for m in _BACKTICK.finditer(raw):
        ident = m.group(1)
        if " " in ident.strip() or _WELL_KNOWN.match(ident):
            continue
        if _MADE_NEXT.search(raw[max(0, m.start() - 30) : m.start()]):
            continue
        compound = bool(re.search(r"[_./A-Z]", ident[1:]))
        key = ident.split("(")[0].rsplit(".", 1)[-1]
        refs.add(key, 0.55 if compound else 0.25, f"`{ident}`", m.start(), m.end())
    for m in _word_matches(_SNAKE, raw, rev, occurrences(raw, ("_",))):
        weight = 0.4
        if _FIELD_AFTER.match(raw, m.end()) or db_talk():
            weight *= 0.3  # a column, or a record's field name
        refs.add(m.group(0), weight, "identifier " + m.group(0), m.start(), m.end())
    for m in _word_matches(_CAMEL, raw, rev, _camel_hits(raw)):
        word = m.group(0)
        if refs.settled(word, 0.5) or word.lower() in _BRANDS or _WELL_KNOWN.match(word):
            continue
        weight = 0.5 if _CLASS_SUFFIX.search(word) else 0.3
        refs.add(word, weight, "identifier " + word, m.start(), m.end())


def _references(raw: str, prose: Prose) -> dict[str, tuple[float, str]]:
    """Distinct references -> (weight, kind). The key is what to look for in code."""
    refs = _Refs(raw)
    rev = raw[::-1]
    _file_refs(refs, rev)
    _symbol_refs(refs, rev)
    for gate, weight in ((_DEICTIC_STRONG, 0.55), (_DEICTIC, 0.5)):
        for m in gate.finditer(prose.text):
            key = "@" + m.group(0)
            if refs.settled(key, weight) or (gate is _DEICTIC and _anaphoric(prose.text, m)):
                continue
            refs.add(key, weight, repr(snippet(prose.text, m.start(), m.end())))
    return refs.found


_POINTING = ("this ", "that ", "these ", "those ")


def _anaphoric(text: str, m: re.Match[str]) -> bool:
    """True for "that service" after "find which service timed out": the request named
    the thing before pointing at it, so the phrase points back into the text, not at
    code it lacks."""
    phrase = m.group(0)
    if not phrase.startswith(_POINTING):
        return False
    noun = phrase.rsplit(" ", 1)[-1]
    stem = noun[:-1] if noun.endswith("s") and len(noun) > 3 else noun
    return re.search(r"\b" + re.escape(stem) + r"s?\b", text[: m.start()]) is not None


def missing_repo_context(
    raw_prose: str,
    prose: Prose,
    messages: Sequence[Mapping[str, Any]],
    *,
    head: int | None = None,
    tail: int | None = None,
) -> Signal:
    """Score how much the request leans on repository content it does not include."""
    del head, tail  # messages are capped one by one in attached_code
    refs = _references(raw_prose, prose)
    if not refs:
        return Signal("missing_repo_context", 0.0, ())
    code = attached_code(messages)
    keep = 1.0
    evidence: list[tuple[float, str]] = []
    for key, (weight, kind) in refs.items():
        w = weight
        if code:
            # deictic phrases ("this function") are satisfied by any attachment
            if key.startswith("@") or key in code:
                continue
            w *= 0.5
        keep *= 1.0 - w
        evidence.append((w, kind))
    evidence.sort(key=lambda x: -x[0])
    shown = [kind for _, kind in evidence[:4]]
    if evidence:
        shown.append("attached code lacks them" if code else "no code attached")
    return Signal("missing_repo_context", round(1.0 - keep, 4), tuple(shown))
