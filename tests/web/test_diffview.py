"""The diff page's rows: word marks give each line back whole, mark only what differs,
and the unified view holds every line of both sides in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tikguard.web.diffview import gutter, side_by_side, tokens, unified, word_spans

#: Export-like lines: words, values, quotes, spaces, tabs and non-ASCII.
line = st.text(alphabet=st.sampled_from(list('ab=9 ."\\,/\t-é')), max_size=40)


def joined(spans: list[tuple[str, bool]]) -> str:
    return "".join(text for text, _ in spans)


@given(line, line)
def test_word_marks_reassemble_both_lines(old: str, new: str) -> None:
    left, right = word_spans(old, new)
    assert joined(left) == old and joined(right) == new
    assert all(text for text, _ in left + right)  # no empty spans
    if old == new:
        assert not any(changed for _, changed in left + right)


@given(line)
def test_tokens_reassemble(text: str) -> None:
    assert "".join(tokens(text)) == text


def test_only_the_changed_value_is_marked() -> None:
    left, right = word_spans("set servers=9.9.9.9 verbose=no", "set servers=1.1.1.1 verbose=no")
    assert [t for t, changed in left if changed] == ["9.9.9.9"]
    assert [t for t, changed in right if changed] == ["1.1.1.1"]


@given(st.lists(line, max_size=30), st.lists(line, max_size=30))
def test_unified_keeps_every_line_in_order(a: list[str], b: list[str]) -> None:
    rows = side_by_side("\n".join(a), "\n".join(b), context=2)
    lines = unified(rows)
    old = [n.old_no for n in lines if n.old_no is not None]
    new = [n.new_no for n in lines if n.new_no is not None]
    assert old == sorted(old) and new == sorted(new)
    for n in lines:
        if n.sign in "- " and n.old_no is not None:
            assert joined(n.spans) == "\n".join(a).splitlines()[n.old_no - 1]
        if n.sign == "+":
            assert joined(n.spans) == "\n".join(b).splitlines()[n.new_no - 1]  # type: ignore[operator]
    folded = sum(int(n.spans[0][0].split()[0]) for n in lines if n.sign == "~")
    assert len(old) + folded == len("\n".join(a).splitlines())


def test_gutter_fits_the_widest_number() -> None:
    assert gutter(side_by_side("", "")) == 2
    assert gutter(side_by_side("x\n" * 1200, "y\n" * 3)) == 4
