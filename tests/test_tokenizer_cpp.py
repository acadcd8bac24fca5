"""The C++ on-device tokenizer gives exactly the Python tokenizer's ids: on the whole SST-2 validation set
and on hostile text. It needs only a C++ compiler (no TFLM), so it always runs."""
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest

from embbert_tf.export import cpp
from embbert_tf.tokenizer import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "tflm_app")
SEQ_LEN = 64


def _vocab():
    shipped = os.path.join(ROOT, "models", "sst2")
    if os.path.exists(os.path.join(shipped, "vocab.txt")):
        return Tokenizer.load(shipped)
    texts = ["the film is a charming , often affecting journey .", "unflinchingly bleak and desperate"] * 10
    return Tokenizer.learn(texts, 300)


@pytest.fixture(scope="module")
def tool(tmp_path_factory):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler (g++) on PATH")
    build = tmp_path_factory.mktemp("tokenizer")
    tokenizer = _vocab()
    cpp.write(str(build), cpp.tokenizer_sources(tokenizer, "test vocabulary"))
    exe = build / "tokenize"
    subprocess.run([compiler, "-std=c++17", "-O1", "-Wall", "-Werror", "-I", os.path.join(APP, "src"), "-I", str(build),
                    os.path.join(APP, "src", "tokenizer.cc"), str(build / "tokenizer_data.cc"),
                    os.path.join(APP, "tools", "tokenize_main.cc"), "-o", str(exe)], check=True)
    return tokenizer, exe


def run_cpp(exe, texts: list[bytes], seq_len=SEQ_LEN, head_tokens=-1):
    payload = b"".join(struct.pack("<I", len(t)) + t for t in texts)
    out = subprocess.run([str(exe), str(seq_len), str(head_tokens)], input=payload, capture_output=True,
                         check=True).stdout
    rows = []
    for line in out.decode().splitlines():
        status, *ids = line.split(" ")
        if status == "invalid":  # "invalid UTF-8"
            status, ids = "invalid UTF-8", ids[1:]
        rows.append((status, [int(i) for i in ids]))
    assert len(rows) == len(texts)
    return rows


def assert_same(tokenizer, exe, texts: list[str], seq_len=SEQ_LEN):
    want, lengths = tokenizer.encode(texts, sequence_length=seq_len)
    got = run_cpp(exe, [t.encode("utf-8") for t in texts], seq_len, tokenizer.head_tokens(seq_len))
    for text, row, n, (status, ids) in zip(texts, want, lengths, got):
        expected = [int(i) for i in row if i != 0]
        assert ids == expected, f"{text!r}: C++ {ids} != Python {expected}"
        assert status == ("truncated" if n > seq_len else "ok"), text


def test_whole_sst2_validation_set(tool, data_dir):
    from embbert_tf import data

    tokenizer, exe = tool
    texts = data.load_split(data.get_task("sst2"), "validation", data_dir).texts[0]
    assert len(texts) == 872
    assert_same(tokenizer, exe, texts)


HOSTILE = [
    "", " ", "\t\n\r\x0b\x0c", "a", "A", ".", "...!?", "don't", "l'été", "ÉCOLE Über naïve façade", "Straße ß ẞ",
    "İstanbul ı", "ς σ Σ", "ﬁne ﬀ ﬃ", "Ⅻ ½ ² ™ ℃", "ＡＢＣ １２３ ！？", "𝐀𝐁𝐂 𝕏", "a\u0301e\u0300o\u0302",
    "\u0041\u030a \u00c5 \u212b", "😀 🙂👍🏽 ❤️ 👨‍👩‍👧", "zero\u200bwidth\u200djoiner\ufeff", "rtl \u202eevil\u202c",
    "中文字符 日本語 한국어 ㄱㅏ", "Ελληνικά Русский עברית العربية हिन्दी", "\x00nul\x01\x1f\x7f",
    "tab\tnew\nline\r\nend", "nbsp\u00a0thin\u2009ideographic\u3000space", "line\u2028sep\u2029para",
    "x" * 99, "y" * 100, "z" * 101, "é" * 50, "é" * 51, "supercalifragilisticexpialidocious" * 4,
    " ".join(["word"] * 200), "a.b,c;d:e!f?g(h)i[j]k{l}m<n>o/p\\q|r@s#t$u%v^w&x*y+z=_-~`", "¿¡«»„“”‘’‹›",
    "\ufffd replacement", "\U0010FFFF max", "\U000E0041 tag", "\ufe0f variation", "ｶﾀｶﾅ ｱｲｳ",
]


def test_hostile_strings(tool):
    tokenizer, exe = tool
    assert_same(tokenizer, exe, HOSTILE)
    assert_same(tokenizer, exe, HOSTILE, seq_len=8)  # truncation everywhere


def test_head_and_tail(tool, data_dir):
    """Long texts keep their first quarter and their end, as a model trained with --truncation head+tail
    saw them (the tail streams through a ring buffer in the ids, wrapped any number of times), or their
    start alone (head, as runs before the flag did)."""
    from embbert_tf import data

    tokenizer, exe = tool
    sst2 = data.load_split(data.get_task("sst2"), "validation", data_dir).texts[0]
    counted = [" ".join(f"w{i} {i}" for i in range(n)) for n in (0, 1, 5, 6, 7, 13, 14, 15, 100, 1001)]
    for truncation in ("head+tail", "head"):
        for seq_len in (3, 4, 8, 16, 64):
            assert_same(Tokenizer(tokenizer.vocab, truncation), exe, sst2[:300] + counted + HOSTILE, seq_len=seq_len)
    head_tail = Tokenizer(tokenizer.vocab, truncation="head+tail")
    ids = head_tail.encode([" ".join(str(i) for i in range(100))], sequence_length=10)[0][0]
    assert head_tail.vocab[ids[1]] == "0" and head_tail.vocab[ids[-2]] == "99"  # the start and the end


def test_random_unicode(tool):
    """Random text over the whole Unicode range: the tables are applied code point by code point, so
    this checks that nothing in normalisation depends on a character's neighbours."""
    tokenizer, exe = tool
    rng = np.random.default_rng(0)
    blocks = [(0x20, 0x7F), (0xA0, 0x250), (0x300, 0x370), (0x370, 0x530), (0x1E00, 0x2000), (0x2000, 0x2BFF),
              (0x3000, 0x30FF), (0xAC00, 0xD7A3), (0xF900, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF),
              (0x20, 0x10FFFF)]
    texts = []
    for _ in range(3000):
        chars = []
        for _ in range(int(rng.integers(1, 25))):
            lo, hi = blocks[int(rng.integers(len(blocks)))]
            cp = int(rng.integers(lo, hi))
            if 0xD800 <= cp < 0xE000:
                cp = 0x20
            chars.append(chr(cp))
        texts.append("".join(chars))
    assert_same(tokenizer, exe, texts)


INVALID = [b"\xff", b"ok \xfe\xff", b"trunc \xc3", b"\xc0\x80 overlong", b"\xe0\x80\xaf", b"\xed\xa0\x80 surrogate",
           b"\xf4\x90\x80\x80 too big", b"\x80 lone continuation", b"caf\xc3\xa9 \xe9 latin-1"]


@pytest.mark.parametrize("data", INVALID)
def test_invalid_utf8_is_rejected_by_both(tool, data):
    tokenizer, exe = tool
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # Python never produces ids for it
    ((status, ids),) = run_cpp(exe, [data])
    assert status == "invalid UTF-8" and ids == [2, 4]
