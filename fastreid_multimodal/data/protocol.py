"""Test protocols of a data set's query/gallery lists.

FastReID's data sets list queries and gallery apart (Market-1501: one or a few queries per
identity and camera). The SynthPerson sets evaluate all-vs-all instead: query = gallery = every
test image; FastReID's rule (a query's own identity under its own camera is dropped from its
gallery) removes the query itself, so no extra rule is needed. Code that wants each test image
once (features, text->image galleries, search) reads ``each_test_image``.
"""


def is_all_vs_all(query, gallery):
    """Whether the query and gallery lists are the same images in the same order."""
    return len(query) > 0 and len(query) == len(gallery) and \
        all(q[0] == g[0] for q, g in zip(query, gallery))


def each_test_image(dataset):
    """The dataset's query + gallery items, each image (path) once, in that order."""
    seen, items = set(), []
    for item in list(dataset.query) + list(dataset.gallery):
        if item[0] not in seen:
            seen.add(item[0])
            items.append(item)
    return items
