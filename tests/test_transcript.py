import random

from bot.truebar import Segment, Token, join_tokens
from bot.truebar.transcript import Transcript


def seg(is_final: bool, *words: str | Token) -> Segment:
    tokens = tuple(w if isinstance(w, Token) else Token(w) for w in words)
    return Segment.of(is_final, tokens)


COMMA = Token(",", left_handed=True)
DOT = Token(".", left_handed=True)
OPEN = Token("(", right_handed=True)
CLOSE = Token(")", left_handed=True)


def test_words_are_joined_with_spaces() -> None:
    assert join_tokens([Token("Hello"), Token("world")]) == "Hello world"


def test_left_handed_punctuation_attaches_to_previous_word() -> None:
    assert join_tokens([Token("Hello"), COMMA, Token("world"), DOT]) == "Hello, world."


def test_brackets_attach_inward() -> None:
    tokens = [Token("a"), OPEN, Token("b"), CLOSE, Token("c")]
    assert join_tokens(tokens) == "a (b) c"


def test_empty_tokens_are_skipped_without_double_spaces() -> None:
    assert join_tokens([Token("a"), Token(""), Token("b")]) == "a b"


def test_display_is_finals_plus_latest_interim() -> None:
    transcript = Transcript()
    transcript.add(seg(False, "Hel"))
    update = transcript.add(seg(False, "Hello", "wor"))
    assert update.text == "Hello wor"  # the newer interim replaces the older one
    assert update.final_text == ""
    update = transcript.add(seg(True, "Hello", "world", DOT))
    assert update.text == "Hello world." and update.is_final
    update = transcript.add(seg(False, "How"))
    assert update.text == "Hello world. How"
    assert update.final_text == "Hello world."
    assert update.segment_text == "How"


def test_punctuation_joins_across_final_and_interim_boundary() -> None:
    transcript = Transcript()
    transcript.add(seg(True, "Yes"))
    assert transcript.add(seg(False, COMMA, "indeed")).text == "Yes, indeed"


def test_final_without_tokens_clears_the_interim() -> None:
    transcript = Transcript()
    transcript.add(seg(False, "noise"))
    assert transcript.add(seg(True)).text == ""


def test_segment_from_json_reads_handedness_and_timing() -> None:
    segment = Segment.from_json(
        {
            "isFinal": True,
            "startTimeMs": 0,
            "endTimeMs": 1200,
            "tokens": [
                {
                    "text": "Hi",
                    "isLeftHanded": False,
                    "isRightHanded": False,
                    "startOffsetMs": 0,
                    "endOffsetMs": 400,
                },
                {"text": "!", "isLeftHanded": True},
            ],
        }
    )
    assert segment.text == "Hi!"
    assert (segment.start_ms, segment.end_ms) == (0, 1200)
    assert segment.tokens[0].end_ms == 400


def test_incremental_text_equals_joining_every_token_again() -> None:
    """The transcript appends each final instead of re-joining the whole note; whatever
    the mix of words, punctuation, brackets, empty tokens and interims, the result must be
    what joining all final tokens (plus the latest interim) from scratch gives."""
    rng = random.Random(7)
    kinds = [Token("word"), Token("x"), COMMA, DOT, OPEN, CLOSE, Token("")]
    for _ in range(200):
        transcript = Transcript()
        finals: list[Token] = []
        for _ in range(rng.randrange(1, 12)):
            tokens = [rng.choice(kinds) for _ in range(rng.randrange(0, 5))]
            update = transcript.add(seg(rng.random() < 0.5, *tokens))
            if update.is_final:
                finals.extend(tokens)
                assert update.text == join_tokens(finals)
            else:
                assert update.text == join_tokens([*finals, *tokens])
            assert update.final_text == join_tokens(finals)
            assert update.segment_text == join_tokens(tokens)
