"""The SSE decoder: bytes in any read size → the exact ``data`` payloads."""

from __future__ import annotations

import pytest

from suxi.sse import LineTooLong, SSEDecoder


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
