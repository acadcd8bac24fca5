"""WordPiece tokenizer: learned with tensorflow-text, BERT input layout, vocabulary saved with the model."""
import numpy as np
import pytest

from embbert_tf.config import CLS_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS
from embbert_tf.errors import UserError
from embbert_tf.tokenizer import Tokenizer, choose_sequence_length

TEXTS = ["the film is a charming , often affecting journey .", "unflinchingly bleak and desperate",
         "allows us to hope that nolan is poised to embark a major career", "the acting , costumes , music ,"
         " cinematography and sound are all astounding"] * 20


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.learn(TEXTS, 200)


def test_special_ids_come_first(tok):
    assert tuple(tok.vocab[:5]) == SPECIAL_TOKENS
    assert (PAD_ID, CLS_ID, SEP_ID) == (0, 2, 4)
    assert 5 < tok.vocab_size <= 200


def test_single_and_pair_layout(tok):
    ids, lengths = tok.encode(["the film"], sequence_length=8)
    row = ids[0].tolist()
    assert row[0] == CLS_ID and row.count(SEP_ID) == 1
    assert row[lengths[0]:] == [PAD_ID] * (8 - lengths[0])
    ids, lengths = tok.encode(["the film"], ["is bleak"], sequence_length=10)
    row = ids[0].tolist()
    assert row[0] == CLS_ID and row.count(SEP_ID) == 2 and row[lengths[0] - 1] == SEP_ID


def test_truncation_keeps_final_sep_and_reports_full_length(tok):
    ids, lengths = tok.encode([TEXTS[3]], sequence_length=6)
    assert ids[0, -1] == SEP_ID and ids[0, 0] == CLS_ID
    assert lengths[0] > 6
    ids, _ = tok.encode([TEXTS[3]], [TEXTS[0]], sequence_length=9)
    row = ids[0].tolist()
    assert row.count(SEP_ID) == 2 and row[-1] == SEP_ID  # both segments trimmed, longest first


def test_head_and_tail_truncation(tok):
    """head+tail keeps the first quarter of the room and fills the rest from the text's end; text that fits,
    and pairs, are cut as with head."""
    pieces = tok.tokenize([TEXTS[3]])[0]
    head_tail, head = Tokenizer(tok.vocab), Tokenizer(tok.vocab, truncation="head")
    assert head_tail.truncation == "head+tail" and head_tail.head_tokens(14) == 3 and head.head_tokens(14) == 12
    ids, lengths = head_tail.encode([TEXTS[3]], sequence_length=14)
    assert ids[0].tolist() == [CLS_ID, *pieces[:3], *pieces[-9:], SEP_ID] and lengths[0] == len(pieces) + 2
    assert head.encode([TEXTS[3]], sequence_length=14)[0][0].tolist() == [CLS_ID, *pieces[:12], SEP_ID]
    for args in (([TEXTS[1]],), ([TEXTS[3]], [TEXTS[0]])):
        np.testing.assert_array_equal(head_tail.encode(*args, sequence_length=9)[0],
                                      head.encode(*args, sequence_length=9)[0])
    with pytest.raises(UserError, match="not one of head, head"):
        Tokenizer(tok.vocab, truncation="tail")


def test_text_is_lowercased_and_accents_stripped(tok):
    a, _ = tok.encode(["THE FILM"], sequence_length=6)
    b, _ = tok.encode(["the fílm"], sequence_length=6)
    np.testing.assert_array_equal(a, b)


def test_unknown_words_map_to_unk_not_crash(tok):
    ids, _ = tok.encode(["zzqx 🙂 \x00"], sequence_length=8)
    assert 1 in ids[0].tolist()


def test_save_load_round_trip(tok, tmp_path):
    tok.save(str(tmp_path))
    again = Tokenizer.load(str(tmp_path))
    assert again.vocab == tok.vocab
    np.testing.assert_array_equal(again.encode(TEXTS[:4], sequence_length=16)[0],
                                  tok.encode(TEXTS[:4], sequence_length=16)[0])


def test_vocabulary_without_specials_is_rejected():
    with pytest.raises(ValueError, match="must start with"):
        Tokenizer(["a", "b", "c", "d", "e"])


def test_sequence_length_choice():
    lengths = np.array([5] * 990 + [40] * 10)
    assert choose_sequence_length(lengths, 256, percentile=99.0) == 16
    assert choose_sequence_length(lengths, 256, percentile=99.95) == 48
    assert choose_sequence_length(np.array([500]), 256) == 256
