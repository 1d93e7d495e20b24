"""The index roots (index/roots.py): what an API client may index. Inside a root it may;
outside every root, by `..`, through a symbolic link that leads out, or when no root is
configured at all, it may not (403 naming the parameter); a relative path is a 400."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmini.errors import InvalidRequest, PermissionDenied
from openmini.index.roots import allowed_root, relative_paths


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "allowed", tmp_path / "elsewhere"
    (root / "project" / "src").mkdir(parents=True)
    (outside / "secret").mkdir(parents=True)
    (root / "escape").symlink_to(outside / "secret", target_is_directory=True)
    (root / "inner").symlink_to(root / "project", target_is_directory=True)
    return root, outside


def test_a_directory_inside_a_root_is_allowed_resolved(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    roots = (str(root),)
    assert allowed_root(str(root / "project"), roots) == (root / "project").resolve()
    assert allowed_root(str(root), roots) == root.resolve()  # the root itself
    # a link that stays inside: the directory it names
    assert allowed_root(str(root / "inner" / "src"), roots) == (root / "project" / "src")
    assert allowed_root(str(root / "project" / ".." / "project"), roots) == root / "project"


def test_a_root_given_through_a_link_or_with_a_slash_still_counts(
        layout: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = layout
    (tmp_path / "alias").symlink_to(root, target_is_directory=True)
    assert allowed_root(str(root / "project"), (str(tmp_path / "alias") + "/",)) == (
        root / "project")


@pytest.mark.parametrize("escape", [
    "elsewhere/secret",  # plainly outside
    "allowed/../elsewhere/secret",  # `..` out of the root
    "allowed/escape",  # a link inside the root that leads out of it
    "allowed/escape/../secret",
    "allowed-not",  # a sibling whose name starts like the root's
    "",  # the parent of the root
])
def test_outside_every_root_is_a_403_naming_path(layout: tuple[Path, Path], tmp_path: Path,
                                                 escape: str) -> None:
    root, _ = layout
    (tmp_path / "allowed-not").mkdir()
    path = str(tmp_path / escape) if escape else str(tmp_path)
    with pytest.raises(PermissionDenied) as info:
        allowed_root(path, (str(root),))
    assert info.value.status == 403 and info.value.param == "path"
    assert info.value.type == "permission_error" and repr(path) in info.value.message


def test_no_root_configured_refuses_everything(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    with pytest.raises(PermissionDenied) as info:
        allowed_root(str(root / "project"), ())
    assert info.value.param == "path" and "--index-roots" in info.value.message


@pytest.mark.parametrize("bad", ["relative/dir", "~/project", " ", "a\0b", 3])
def test_what_is_not_an_absolute_path_is_a_400(layout: tuple[Path, Path], bad: object
                                               ) -> None:
    root, _ = layout
    with pytest.raises(InvalidRequest) as info:
        allowed_root(bad, (str(root),))
    assert info.value.status == 400 and info.value.param == "path"


def test_the_error_envelope_is_openais() -> None:
    error = PermissionDenied("no", param="path")
    assert error.envelope() == {"error": {"message": "no", "type": "permission_error",
                                          "param": "path", "code": "permission_denied"}}


def test_relative_paths_are_normalised_and_kept_inside_the_root() -> None:
    assert relative_paths(["a/b.py", "./a", "a//b/", "a/../c.py", "."]) == [
        "a/b.py", "a", "a/b", "c.py", "."]
    for bad, param in ((["/etc/passwd"], "paths[0]"), (["ok.py", "../x"], "paths[1]"),
                       (["a/../../x"], "paths[0]"), ([""], "paths[0]"), (["a\0b"], "paths[0]"),
                       ([None], "paths[0]"), ("a.py", "paths"), ({"a": 1}, "paths")):
        with pytest.raises(InvalidRequest) as info:
            relative_paths(bad)
        assert info.value.param == param
