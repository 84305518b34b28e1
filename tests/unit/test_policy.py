import pytest

from riskstream.core import paths
from riskstream.core.errors import PolicyError
from udfs import policy

CATEGORIES = ("toxicity", "hate", "sexual", "violence", "self_harm", "spam")


def test_the_shipped_policy_covers_every_category_of_the_default_model():
    loaded = policy.load(paths.REPO_ROOT / "policies" / "default.toml", CATEGORIES)
    assert set(loaded.thresholds) == set(CATEGORIES)
    assert loaded.version


@pytest.mark.parametrize("text, line, message", [
    ('version = "v"\n[thresholds]\nspam = 2\n', 3, "must be a number in [0, 1]"),
    ('version = "v"\n[thresholds]\nspam = true\n', 3, "must be a number in [0, 1]"),
    ('version = "v"\n[thresholds]\nspam = 0.5\nnudity = 0.5\n', 4, "unknown category 'nudity'"),
    ('version = "v"\n[thresholds\nspam = 0.5\n', 2, "not valid TOML"),
    ('version = ""\n[thresholds]\nspam = 0.5\n', 1, "version must be a non-empty string"),
    ('version = "v"\nowner = "x"\n[thresholds]\nspam = 0.5\n', 2, "unknown key 'owner'"),
    ('version = "v"\n', 1, "[thresholds] table"),
])
def test_a_bad_policy_is_rejected_with_the_line_at_fault(text, line, message):
    with pytest.raises(PolicyError) as error:
        policy.parse(text, "p.toml", CATEGORIES)
    assert error.value.line == line
    assert str(error.value).startswith(f"p.toml:{line}: ")
    assert message in str(error.value)


def test_unsafe_categories_use_each_threshold_and_skip_unjudged_ones():
    p = policy.Policy("v", {"spam": 0.8, "hate": 0.3})
    assert p.unsafe_categories(("spam", "hate", "sexual"), [0.8, 0.29, 0.99]) == ["spam"]
