from hiergym.agents.tiny import FORMAT_TAGS, build_tokenizer, words_of

from .conftest import SAMPLE_TEXTS


def test_words_keep_grid_layout_tokens():
    assert words_of(["#@ $\n<action>up</action>"]) == ["#", "@", " ", "$", "\n", "<action>", "up", "</action>"]


def test_upper_case_grid_cells_are_one_token_each_and_words_stay_whole():
    # Sokoban rows use letters for cells: "XO" must be two cells, not one word (columns would shift)
    assert words_of(["##_XO#"]) == ["#", "_", "X", "O"]
    assert words_of(["You see a TV"]) == ["You", " ", "see", "a", "T", "V"]


def test_tokenizer_round_trips_known_text_and_knows_format_tags():
    tok = build_tokenizer(SAMPLE_TEXTS)
    text = "#####\n#@ $.#\n<think>the box</think><action> up</action>"
    assert tok.decode(tok(text)["input_ids"]) == text
    for tag in FORMAT_TAGS:
        assert tok.convert_tokens_to_ids(tag) != tok.unk_token_id


def test_saved_model_loads_through_auto_classes_with_same_tokenizer(tiny_lm_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir)
    text = "#@ $.#\n<action> left</action>"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert model.config.vocab_size == len(tok)
    assert tok.convert_tokens_to_ids("zebra") == tok.unk_token_id
