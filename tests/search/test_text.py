from patron.search.text import Terms, highlight, index_terms, normalize


def test_it_folds_case_and_strips_diacritics() -> None:
    assert normalize("Café LUMIÈRE Ørsted") == "cafe lumiere ørsted"


def test_it_splits_addresses_and_punctuation_into_words() -> None:
    assert index_terms("Ann.Lee@Example.COM", "re_set-2") == " ann lee example com re set 2 "


def test_it_turns_hostile_input_into_quoted_words() -> None:
    terms = Terms.parse("\"NEAR( a AND -b* 'c")
    assert terms.fts5() == '"near" "a" "and" "b" "c"*'
    assert terms.tsquery() == "'near' & 'a' & 'and' & 'b' & 'c':*"


def test_it_finds_no_words_in_punctuation() -> None:
    assert not Terms.parse(" \" - * ( ) ' ")


def test_it_escapes_the_text_then_marks_the_matches() -> None:
    html = highlight("<b>Café</b> & cafés", Terms.parse("cafe"))
    assert html == "&lt;b&gt;<mark>Café</mark>&lt;/b&gt; &amp; <mark>cafés</mark>"


def test_it_cuts_a_long_text_around_the_first_match() -> None:
    text = " ".join(f"w{n}" for n in range(200)) + " needle " + "tail " * 100
    html = highlight(text, Terms.parse("needle"))
    assert html.startswith("…") and html.endswith("…")
    assert "<mark>needle</mark>" in html
    assert "w0 " not in html


def test_it_asks_for_every_word_in_the_title_on_both_backends() -> None:
    terms = Terms.parse("Pallet zeph")
    assert terms.fts5(title_only=True) == 'title_terms : "pallet" title_terms : "zeph"*'
    assert terms.tsquery(title_only=True) == "'pallet':A & 'zeph':*A"


def test_plain_ascii_text_folds_as_unicode_text_does() -> None:
    assert normalize("Order #4411 SHIPPED, Straße") == "order #4411 shipped, strasse"
    assert normalize("Order #4411 SHIPPED") == "order #4411 shipped"
