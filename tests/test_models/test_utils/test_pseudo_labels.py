"""UIC's empty-class splitting and initial labels."""
import pytest
import torch

from selfemb.models.utils import class_statistics, random_labels, split_empty_classes
from selfemb.models.utils.pseudo_labels import scrambled_order


def test_no_empty_class_is_unchanged():
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    assert torch.equal(split_empty_classes(labels, 3), labels)


def test_empty_class_takes_half_of_largest_in_scrambled_order():
    labels = torch.tensor([0, 0, 0, 0, 0, 1, 1, 0, 0])  # class 0: 7 members, class 2 empty
    out = split_empty_classes(labels, 3)
    # official: the largest keeps max_item[:n // 2], the empty class gets the rest
    assert torch.bincount(out, minlength=3).tolist() == [3, 2, 4]
    assert torch.equal(out[labels == 1], torch.tensor([1, 1]))  # others untouched
    members = (labels == 0).nonzero()[:, 0]
    rank = torch.argsort(scrambled_order(9))  # position of each sample in the order
    ordered = members[torch.argsort(rank[members])]
    assert out[ordered].tolist() == [0, 0, 0, 2, 2, 2, 2]  # first floor(n/2) stay


def naive_split(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The official loop (main.py) with the random shuffle replaced by the scrambled
    order: every empty class, in ascending id, takes max_item[n // 2:] of the first
    largest class."""
    rank = torch.argsort(scrambled_order(labels.numel())).tolist()
    lists = [sorted((i for i, c in enumerate(labels.tolist()) if c == k), key=rank.__getitem__)
             for k in range(num_classes)]
    for empty in [k for k, members in enumerate(lists) if not members]:
        largest = max(range(num_classes), key=lambda k: (len(lists[k]), -k))
        members = lists[largest]
        lists[empty], lists[largest] = members[len(members) // 2:], members[:len(members) // 2]
    out = torch.empty_like(labels)
    for k, members in enumerate(lists):
        out[members] = k
    return out


@pytest.mark.parametrize('seed', range(5))
def test_split_equals_the_official_loop(seed):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (37, ), generator=gen) * 4  # classes 0, 4, 8 only
    assert torch.equal(split_empty_classes(labels, 11), naive_split(labels, 11))


def test_repeated_splits_and_ties():
    labels = torch.zeros(10, dtype=torch.long)  # everything collapsed into class 0
    out = split_empty_classes(labels, 4)
    # 0 (10) -> 0:5, 1:5 ; largest tie 0/1 -> lowest id 0 -> 0:2, 2:3 ; largest 1 -> 1:2, 3:3
    assert torch.bincount(out, minlength=4).tolist() == [2, 2, 3, 3]
    assert torch.equal(out, split_empty_classes(labels, 4))  # deterministic
    assert class_statistics(out, 4) == dict(nonempty=4, min_size=2, max_size=3)


def test_collapse_of_many_classes_fills_all():
    labels = torch.full((1000, ), 7, dtype=torch.long)
    out = split_empty_classes(labels, 300)
    counts = torch.bincount(out, minlength=300)
    assert int(counts.min()) >= 1 and int(counts.sum()) == 1000


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match='cannot fill 5 classes with 3 samples'):
        split_empty_classes(torch.tensor([0, 0, 1]), 5)
    with pytest.raises(ValueError, match=r'\[0, 3\)'):
        split_empty_classes(torch.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match='num_classes'):
        random_labels(10, 20, seed=0)


def test_random_labels_seeded_and_full():
    a, b = random_labels(50, 20, seed=3), random_labels(50, 20, seed=3)
    assert torch.equal(a, b) and not torch.equal(a, random_labels(50, 20, seed=4))
    assert int(torch.bincount(a, minlength=20).min()) >= 1
