"""Who owns workspace files: the uid mapping of a session container, and the hand-back.

The workspace owner W (the host uid that owns the workspace directory) is mapped to the
container's `code` user with `raw.idmap "both W <code_uid>"` and no shift. So files the
tool creates are W's on the host, and container root stays an unprivileged host uid:
what `sudo` creates inside belongs to the container's unmapped root range on the host,
never to host root. `reclaim_workspace` hands such files back to `code` (so to W) when
a session ends.

A root-owned workspace (W = 0) is the hard case: mapping host root to `code` means code
could create set-uid-root programs on the host. The files must stay root's (their owner
expects that), so instead the container gets a seccomp policy that refuses to set the
set-uid and set-gid bits anywhere in it. See docs/sessions.md for the trade-off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coi.errors import CoiError

if TYPE_CHECKING:
    from coi.incus.client import Client

S_ISUID, S_ISGID = 0o4000, 0o2000

# Incus 6.0's own policy for a container with nesting and the mknod/setxattr intercepts
# (raw.seccomp replaces the generated policy whole, so it is restated here first).
_INCUS_DEFAULT_POLICY = """\
2
denylist
[all]
reject_force_umount
[all]
kexec_load errno 38
open_by_handle_at errno 38
init_module errno 38
finit_module errno 38
delete_module errno 38
seccomp errno 22 [1,2146435072,SCMP_CMP_MASKED_EQ,2146435072]
seccomp errno 22 [1,8,SCMP_CMP_MASKED_EQ,8]
mknod notify [1,8192,SCMP_CMP_MASKED_EQ,61440]
mknod notify [1,24576,SCMP_CMP_MASKED_EQ,61440]
mknodat notify [2,8192,SCMP_CMP_MASKED_EQ,61440]
mknodat notify [2,24576,SCMP_CMP_MASKED_EQ,61440]
setxattr notify [3,1,SCMP_CMP_EQ]
"""

# Every syscall that can put a mode on a file, with the index of its mode argument.
_MODE_SYSCALLS = (
    ("chmod", 1), ("fchmod", 1), ("fchmodat", 2), ("fchmodat2", 2),
    ("open", 2), ("openat", 3), ("creat", 1), ("mknod", 1), ("mknodat", 2),
)
# Their arguments hide in structs the filter cannot read: make them look absent (ENOSYS),
# so programs fall back to the calls above (openat2 -> openat; io_uring -> plain I/O).
_UNFILTERABLE = ("openat2", "io_uring_setup", "io_uring_enter", "io_uring_register")


def no_setid_policy() -> str:
    """The raw.seccomp text: Incus's default policy plus EPERM for any set-id mode bit."""
    rules = [f"{name} errno 1 [{index},{bit},SCMP_CMP_MASKED_EQ,{bit}]"
             for name, index in _MODE_SYSCALLS for bit in (S_ISUID, S_ISGID)]
    rules += [f"{name} errno 38" for name in _UNFILTERABLE]
    return _INCUS_DEFAULT_POLICY + "\n".join(rules) + "\n"


@dataclass(frozen=True)
class OwnerMapping:
    """How one workspace owner is mapped into a session container."""

    owner_uid: int
    code_uid: int

    @property
    def root_owned(self) -> bool:
        return self.owner_uid == 0

    def config(self) -> dict[str, str]:
        """Incus config keys for the create request."""
        keys = {"raw.idmap": f"both {self.owner_uid} {self.code_uid}"}
        if self.root_owned:
            keys["raw.seccomp"] = no_setid_policy()
        return keys


def workspace_owner(workspace: str) -> int:
    """The host uid that owns the workspace directory (its files' expected owner)."""
    try:
        return os.stat(workspace).st_uid
    except OSError as exc:
        raise CoiError(f"cannot read the workspace {workspace}: {exc.strerror}") from exc


def mapping_for(workspace: str, code_uid: int) -> OwnerMapping:
    return OwnerMapping(workspace_owner(workspace), code_uid)


def reclaim_script(code_uid: int, root: str = "/workspace") -> list[str]:
    """Give every file below `root` not owned by code (uid and gid) back to code.

    `-xdev` keeps to the workspace mount (not mounts inside it); `find` does not follow
    symlinks and `chown -h` changes a link itself. Files whose owner is not mapped into
    the container (shown as 65534) cannot be changed from inside, so they are left out.
    `chown -c` names each file it changed: those lines are counted.
    """
    uid = str(code_uid)
    return ["find", root, "-xdev", "(", "!", "-uid", uid, "-o", "!", "-gid", uid, ")",
            "!", "-uid", "65534", "!", "-gid", "65534",
            "-exec", "chown", "-h", "-c", f"{uid}:{uid}", "{}", "+"]


def count_changed(output: bytes) -> int:
    return sum(1 for line in output.splitlines() if line.startswith(b"changed ownership of"))


def reclaim_workspace(client: Client, container: str, code_uid: int) -> int:
    """Hand files in /workspace not owned by `code` back to it (so, on the host, to the
    workspace owner). Runs inside the running container as its root; returns how many
    files changed. Raises CoiError when the container is not running."""
    from coi.incus import exec as incus_exec

    result = incus_exec.run(client, container, reclaim_script(code_uid),
                            env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                            timeout=600)
    changed = count_changed(result.stdout)
    if result.exit_code != 0 and changed == 0 and result.stderr.strip():
        detail = result.stderr.decode(errors="replace").strip().splitlines()[-1]
        raise CoiError(f"could not hand workspace files back in {container}: {detail}")
    return changed
