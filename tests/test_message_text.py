import pytest

from bot.telegram.outbound.message_text import (
    ELLIPSIS,
    MAX_MESSAGE,
    quoted,
    split_message,
    tail,
    utf16_len,
)


def test_short_text_is_one_part() -> None:
    assert split_message("Hello world.") == ["Hello world."]


def test_splits_at_word_boundaries_within_the_limit() -> None:
    words = [f"word{i}" for i in range(2000)]
    text = " ".join(words)
    parts = split_message(text)
    assert len(parts) > 1
    assert all(utf16_len(p) <= MAX_MESSAGE for p in parts)
    assert " ".join(parts) == text  # nothing lost, no word cut
    assert all(p == p.strip() for p in parts)


def test_counts_utf16_units_like_telegram() -> None:
    emoji = "😀"  # two UTF-16 units
    text = " ".join([emoji * 10] * 500)
    parts = split_message(text)
    assert all(utf16_len(p) <= MAX_MESSAGE for p in parts)
    assert " ".join(parts) == text
    assert len(parts[0]) < MAX_MESSAGE  # fewer code points than the limit


def test_a_single_overlong_word_is_cut_hard() -> None:
    parts = split_message("x" * 5000)
    assert [len(p) for p in parts] == [4096, 904]


@pytest.mark.parametrize("text", ["", "   "])
def test_blank_text_has_no_parts(text: str) -> None:
    assert split_message(text) == []


def test_tail_keeps_the_end_of_a_long_interim() -> None:
    text = " ".join(f"w{i}" for i in range(3000))
    shown = tail(text)
    assert utf16_len(shown) <= MAX_MESSAGE
    assert shown.startswith("… ") and shown.endswith("w2999")
    assert tail("short") == "short"


def test_a_servers_error_is_shown_short_and_without_links() -> None:
    from bot.core.say import Notice, NoticeKind
    from bot.telegram.texts import texts_for

    huge = "Pipeline stage ASR failed: see https://status.example.com/x?id=1 " + "x" * 5000
    shown = texts_for("en").notice(
        Notice(NoticeKind.SERVICE_ERROR, detail=huge + "\nTraceback: ...")
    )
    assert len(shown) < 200 and "http" not in shown and "\n" not in shown
    assert shown.startswith("⚠️ The speech service reported an error: Pipeline stage ASR failed")


@pytest.mark.parametrize("unit", ["word ", "wörd 🎉 ", "🎉🎉 x "])
def test_tail_of_text_with_astral_characters_fits_and_keeps_the_end(unit: str) -> None:
    text = unit * 2000 + "end"
    shown = tail(text)
    assert utf16_len(shown) <= MAX_MESSAGE and shown.endswith(unit * 5 + "end")
    kept = shown.removeprefix(ELLIPSIS + " ")
    assert utf16_len(kept) >= MAX_MESSAGE - 2 - 2 * 64  # the room used, but a cut at a word


def test_a_quote_is_cut_at_a_word_to_leave_room_for_what_follows_it() -> None:
    short = quoted("🎙 Hello there", "⏹ Stopped.")
    assert short == ("🎙 Hello there\n\n⏹ Stopped.", 0, utf16_len("🎙 Hello there"))
    text, start, units = quoted("🎙word " * 1000, "⏹ Stopped.")  # 6 units a word, 6000 in all
    assert utf16_len(text) <= MAX_MESSAGE and text.endswith(" …\n\n⏹ Stopped.")
    quote = text[: -len("\n\n⏹ Stopped.")]
    assert start == 0 and units == utf16_len(quote)
    assert quote.removesuffix(" …").endswith("🎙word")
    whole, _, units = quoted("word " * 819, "")  # 4094 units: fits as it is
    assert not whole.endswith("…") and units == utf16_len(whole) == 4094


def test_a_heading_goes_above_the_quote_and_takes_its_room() -> None:
    heading = "🎙 From Ana 😀, 6 Dec, 10:00 UTC:"
    text, start, units = quoted("word " * 1000, "⏹ Stopped.", heading=heading)
    assert text.startswith(heading + "\n\nword") and start == utf16_len(heading) + 2
    assert utf16_len(text) <= MAX_MESSAGE
    body = text[len(heading) + 2 : -len("\n\n⏹ Stopped.")]
    assert units == utf16_len(body) and body.endswith("word …")
