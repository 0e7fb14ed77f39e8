"""The SSE decoder: bytes in any read size → the exact ``data`` payloads."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from suxi.sse import EventTooLarge, LineTooLong, SSEDecoder, StreamOverflow

FIXTURES = Path(__file__).parent / "fixtures"


def decode(*reads: bytes, **options: int) -> list[str]:
    decoder = SSEDecoder(**options)
    out: list[str] = []
    for read in reads:
        out += decoder.feed(read)
    return out + decoder.close()


def one_byte_reads(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_line_endings(eol: bytes) -> None:
    data = b"data: one" + eol + eol + b"data: two" + eol + eol
    assert decode(data) == ["one", "two"]
    assert decode(*one_byte_reads(data)) == ["one", "two"]


def test_mixed_line_endings_in_one_stream() -> None:
    assert decode(b"data: a\r\n\ndata: b\r\rdata: c\n\r\n") == ["a", "b", "c"]


def test_crlf_split_across_two_reads_is_one_line_break() -> None:
    # Were the "\n" after a read-final "\r" a second break, it would end the frame early.
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == ["a\nb"]
    assert decode(b"data: a\r\n\r", b"\ndata: b\r\n\r\n") == ["a", "b"]


def test_empty_read_between_cr_and_lf() -> None:
    assert decode(b"data: a\r", b"", b"\ndata: b\r\n\r\n") == ["a\nb"]


def test_cr_at_end_of_read_followed_by_another_line() -> None:
    assert decode(b"data: a\r", b"data: b\r\r") == ["a\nb"]


def test_multibyte_characters_split_at_every_byte_offset() -> None:
    text = "进度：36% 🏃 生成完成 ✅"
    data = f"data: {text}\n\n".encode()
    for cut in range(1, len(data)):
        assert decode(data[:cut], data[cut:]) == [text], cut
    for first in range(1, len(data) - 1):
        second = first + 1 + first % 3
        assert decode(data[:first], data[first:second], data[second:]) == [text], first
    assert decode(*one_byte_reads(data)) == [text]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert decode(b"data: a\xffb\n\n") == ["a\ufffdb"]
    assert decode(b"data: \xe8\xbf") == ["\ufffd"]  # the stream ended inside a character


def test_comment_lines_are_ignored() -> None:
    data = b": PING\n\n: keep-alive\ndata: x\n: PING\n\n:\n\n"
    assert decode(data) == ["x"]


def test_data_without_space_and_extra_spaces() -> None:
    assert decode(b"data:x\n\n") == ["x"]
    assert decode(b"data:  x\n\n") == [" x"]  # only one space belongs to the syntax
    assert decode(b'data: {"a": 1}\n\n') == ['{"a": 1}']


def test_empty_data_lines() -> None:
    assert decode(b"data:\n\n") == [""]
    assert decode(b"data\n\n") == [""]  # a field name alone has an empty value


def test_multi_line_data_is_joined_with_newline() -> None:
    assert decode(b"data: a\ndata: b\ndata:\ndata: c\n\n") == ["a\nb\n\nc"]


def test_id_event_retry_and_unknown_fields_are_dropped() -> None:
    data = b"id: 7\nevent: message\nretry: 3000\nfoo: bar\ndata: x\n\nevent: ping\n\n"
    assert decode(data) == ["x"]


def test_field_names_are_exact() -> None:
    assert decode(b"Data: x\n\ndata : y\n\ndata: z\n\n") == ["z"]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert decode(b"\n\n\r\n\n") == []


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c"])
def test_only_cr_and_lf_break_lines(separator: str) -> None:
    text = f"a{separator}b"
    assert decode(f"data: {text}\n\n".encode()) == [text]


def test_frame_without_final_blank_line_is_dispatched_at_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\n") == ["a"]
    assert decoder.close() == ["b"]
    assert decode(b"data: c") == ["c"]
    assert decode(b"data: d\r") == ["d"]


def test_close_without_data_returns_nothing() -> None:
    assert decode(b"") == []
    assert decode(b": PING") == []
    assert decode(b"event: x\n") == []


def test_done_sentinel_is_an_ordinary_payload() -> None:
    assert decode(b"data: [DONE]\n\n") == ["[DONE]"]
    assert decode(b"data: [DONE]\\n\\n\n\n") == ["[DONE]\\n\\n"]


def test_payloads_do_not_depend_on_read_size() -> None:
    data = (
        ": PING\r\n\r\nid: 1\r\nevent: message\r\n"
        'data:{"choices":[{"delta":{"content":"\\u003e 排队中"}}]}\r\n\r\n'
        "data: 🏃 进度 36..\r\n\r\ndata: [DONE]\r\n\r\n"
    ).encode()
    whole = decode(data)
    assert whole == [
        '{"choices":[{"delta":{"content":"\\u003e 排队中"}}]}',
        "🏃 进度 36..",
        "[DONE]",
    ]
    for size in (1, 2, 3, 5, 7, 64):
        reads = [data[i : i + size] for i in range(0, len(data), size)]
        assert decode(*reads) == whole, size


def test_line_too_long_while_buffering() -> None:
    decoder = SSEDecoder(max_line=16)
    assert decoder.feed(b"data: 0123456789") == []  # exactly 16 characters: still fine
    with pytest.raises(LineTooLong) as err:
        decoder.feed(b"X")
    assert err.value.size == 17


def test_line_too_long_in_a_single_read() -> None:
    with pytest.raises(LineTooLong):
        decode(b"data: " + b"x" * 40 + b"\n\n", max_line=16)


def test_line_too_long_over_many_reads() -> None:
    decoder = SSEDecoder(max_line=32)
    with pytest.raises(LineTooLong):
        for _ in range(10):
            decoder.feed(b"data")


def test_max_line_counts_one_line_not_the_whole_stream() -> None:
    data = b"data: 0123456789\n\n" * 50
    assert decode(data, max_line=16) == ["0123456789"] * 50


# ── Bounds and linear time (docs/hostile-input.md, "SSE") ─────────────────────────────────────

TRANSCRIPT = (
    "\ufeff: PING\r\n\r\nid: 1\r\nevent: message\r\n"
    'data:{"c":"\\u003e 排队中"}\r\n\r\n'
    "data: 🏃 进度 36..\rdata: 二\n\ndata: a\u2028b\n: x\ndata\n\r\ndata: [DONE]\n\n"
).encode()
TRANSCRIPT_PAYLOADS = ['{"c":"\\u003e 排队中"}', "🏃 进度 36..\n二", "a\u2028b\n", "[DONE]"]


def test_transcript_is_read_as_expected() -> None:
    assert decode(TRANSCRIPT) == TRANSCRIPT_PAYLOADS


def test_every_split_into_two_and_three_reads_gives_the_same_payloads() -> None:
    data = TRANSCRIPT
    for first in range(len(data) + 1):
        assert decode(data[:first], data[first:]) == TRANSCRIPT_PAYLOADS, first
        for second in range(first, len(data) + 1, 3):
            reads = (data[:first], data[first:second], data[second:])
            assert decode(*reads) == TRANSCRIPT_PAYLOADS, (first, second)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.sse")))
def test_random_chunkings_of_every_fixture(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    whole = decode(data)
    assert whole  # every transcript carries payloads
    rng = random.Random(name)
    for _ in range(40):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, min(60, len(data) - 1))))
        reads = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert decode(*reads) == whole


def test_byte_order_mark_only_at_the_start_is_skipped() -> None:
    assert decode(b"\xef\xbb\xbfdata: a\n\n") == ["a"]
    assert decode(b"\xef", b"\xbb", b"\xbfdata: a\n\n") == ["a"]
    assert decode(b"data: \xef\xbb\xbfa\n\n") == ["\ufeffa"]


def test_overflow_errors_share_one_base() -> None:
    assert issubclass(LineTooLong, StreamOverflow)
    assert issubclass(EventTooLarge, StreamOverflow)
    assert issubclass(StreamOverflow, ValueError)


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_max_line_is_exact_for_a_complete_line(eol: bytes) -> None:
    line = b"data: " + b"x" * 10  # 16 bytes
    assert decode(line + eol + eol, max_line=16) == ["x" * 10]
    with pytest.raises(LineTooLong) as err:
        decode(line + b"y" + eol + eol, max_line=16)
    assert (err.value.size, err.value.limit) == (17, 16)


def test_max_line_counts_bytes_not_characters() -> None:
    line = "data: 进度".encode()  # 12 bytes, 8 characters
    assert decode(line + b"\n\n", max_line=12) == ["进度"]
    with pytest.raises(LineTooLong):
        decode(line + b"\n\n", max_line=11)
    with pytest.raises(LineTooLong):
        decode(*one_byte_reads(line), max_line=11)


def test_a_line_without_end_hits_max_line() -> None:
    decoder = SSEDecoder(max_line=4096)
    with pytest.raises(LineTooLong) as err:
        for _ in range(100_000):
            decoder.feed(b"." * 64)
    assert err.value.size == 65 * 64  # the 65th read of 64 bytes crossed the bound


def test_a_data_flood_without_blank_lines_hits_max_event() -> None:
    decoder = SSEDecoder(max_line=64, max_event=10_000)
    with pytest.raises(EventTooLarge) as err:
        for _ in range(100_000):
            decoder.feed(b"data: 0123456789\n")
    assert err.value.limit == 10_000
    assert 10_000 < err.value.size <= 10_011


def test_max_event_is_exact() -> None:
    # Three data lines of 4 bytes joined by two newlines: 14 bytes.
    frame = b"data: abcd\ndata: efgh\ndata: ijkl\n\n"
    assert decode(frame, max_event=14) == ["abcd\nefgh\nijkl"]
    with pytest.raises(EventTooLarge) as err:
        decode(frame, max_event=13)
    assert err.value.size == 14


def test_max_event_counts_one_event_not_the_stream() -> None:
    frame = b"data: abcd\ndata: efgh\n\n"
    assert decode(frame * 200, max_event=9) == ["abcd\nefgh"] * 200


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def feed_all(reads: list[bytes]) -> Callable[[], object]:
    def run() -> None:
        decoder = SSEDecoder(max_line=1 << 30)
        for read in reads:
            decoder.feed(read)

    return run


@pytest.mark.parametrize("size", [1, 16])
def test_one_endless_line_in_tiny_reads_costs_linear_time(size: int) -> None:
    # A decoder that re-reads its pending line on every read is quadratic: 16-byte reads make
    # that visible at these sizes (4x the reads took 11x the time before the rewrite).
    small = best_of(3, feed_all([b"x" * size] * 8_000))
    large = best_of(3, feed_all([b"x" * size] * 32_000))
    assert large / small < 6, (small, large)


def test_many_data_lines_in_tiny_reads_cost_linear_time() -> None:
    def reads(n: int) -> list[bytes]:
        return one_byte_reads(b"data: abc\n" * (n // 10))

    small = best_of(3, feed_all(reads(8_000)))
    large = best_of(3, feed_all(reads(32_000)))
    assert large / small < 6, (small, large)
