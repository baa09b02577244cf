"""Smart routing and duplicate suggestions: dialect normalised, places dropped, the
proposal is a suggestion, duplicates only among open matters the user may see."""

import json

import pytest

from minqing.appeals import routing
from minqing.appeals.models import Appeal
from minqing.appeals.services import appeal_recategorise
from minqing.appeals.tests.factories import category, file_appeal
from minqing.conftest import login
from minqing.core.errors import PermissionDeniedError


@pytest.fixture(autouse=True)
def _fresh_router():
    routing.forget()
    yield
    routing.forget()


def test_dialect_and_typos_are_normalised():
    assert routing.normalise("屋里冇得水,么子原因,低宝,反应了") == "家里没有水,什么原因,低保,反映了"
    assert routing.normalise("屋顶漏雨,刘屋") == "屋顶漏雨,刘家"


def test_place_names_are_words_and_are_dropped():
    routing.add_places(["七星村"])
    toks = routing.tokens("七星村路灯坏了")
    assert "w:七星村" not in toks and "w:路灯" in toks


def test_route_suggest_proposes_the_category_and_its_unit(db, tree):
    water = category("water")
    sugg = routing.route_suggest("我屋里冇得水吃了,自来水停了三天")
    assert sugg[0]["code"] == "water" and sugg[0]["category_id"] == water.pk
    assert routing.route_suggest("村口的路灯晚上不亮")[0]["code"] == "streetlight"
    assert routing.route_suggest("   ") == []


def test_corrections_feed_back(users, tree):
    text = "村里那条老渠道漏得厉害"
    a = file_appeal(actor=users.township, area=tree.qixing, code="road", content=text)
    Appeal.objects.filter(pk=a.pk).update(handling_area=tree.zhaoshan)
    a.refresh_from_db()
    with pytest.raises(PermissionDeniedError):
        appeal_recategorise(actor=users.grid, appeal=a, category_id=category("agriculture").pk)
    appeal_recategorise(actor=users.township, appeal=a, category_id=category("agriculture").pk)
    assert Appeal.objects.get(pk=a.pk).category.code == "agriculture"
    assert routing.route_suggest(text)[0]["code"] == "agriculture"


def test_duplicates_open_same_village_same_category_visible_only(users, tree):
    first = file_appeal(
        actor=users.cadre,
        area=tree.grids["七星村1"],
        code="streetlight",
        content="村口桥头的路灯坏了一个多月,晚上黑漆漆的,老人家不敢出门",
    )
    file_appeal(actor=users.cadre, area=tree.qixing, code="water", content="自来水浑得很")
    other_village = file_appeal(
        actor=users.township,
        area=tree.zhaoshancun,
        code="streetlight",
        content="村口桥头的路灯坏了一个多月,晚上黑漆漆的",
    )
    text = "桥头那盏路灯一个多月冇亮了,夜里黑得很,老人不敢出来走"
    found = routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing)
    assert [a for a, _s in found] == [first]
    assert other_village not in [a for a, _s in found]
    # closed matters are not proposed
    Appeal.objects.filter(pk=first.pk).update(state="resolved")
    assert routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing) == []
    # an outsider never sees matters outside their area
    Appeal.objects.filter(pk=first.pk).update(state="accepted")
    assert routing.duplicate_suggest(fetched_by=users.outsider, text=text, area=tree.qixing) == []


def test_suggest_api(client, users, tree):
    file_appeal(
        actor=users.cadre,
        area=tree.qixing,
        code="water",
        content="这几天屋里的自来水黄黄的浑得很,烧开还有渣渣沉底",
    )
    login(client, users.cadre)
    r = client.post(
        "/api/appeals/suggest",
        json.dumps(
            {"content": "我屋里自来水这几天浑得很,烧开了还有沉淀", "area_id": tree.qixing.pk}
        ),
        content_type="application/json",
    )
    body = r.json()
    assert body["categories"][0]["code"] == "water"
    assert len(body["duplicates"]) == 1
    login(client, users.outsider)
    r = client.post(
        "/api/appeals/suggest",
        json.dumps({"content": "自来水浑得很", "area_id": tree.qixing.pk}),
        content_type="application/json",
    )
    assert r.json()["duplicates"] == []


def test_built_in_examples_cover_every_category_and_route_before_any_history(db):
    """routing_seeds.txt: villagers' wording for each category, so a county with no routed
    matters yet still has examples; they are suggestions like the rest."""
    from minqing.appeals.categories import DEFAULT_CATEGORIES

    seeds = routing.seed_examples()
    codes = {c for c, *_ in DEFAULT_CATEGORIES if c != "other"}
    per = {c: sum(1 for _t, code in seeds if code == c) for c in codes}
    assert {code for _t, code in seeds} == codes and min(per.values()) >= 5
    assert all(text and "|" not in text for text, _c in seeds)
    assert not Appeal.objects.exists()
    # descriptions alone send this to 用电 (栏杆 is no word of 道路交通's description)
    assert routing.route_suggest("桥的栏杆断了")[0]["code"] == "road"


def test_more_dialect_words_are_normalised():
    assert routing.normalise("娃儿晚黑回来,啷个办") == "孩子晚上回来,怎么办"


def test_different_groups_are_never_duplicates(users, tree):
    first = file_appeal(
        actor=users.cadre,
        area=tree.qixing,
        code="streetlight",
        content="三组的路灯坏了一个多月,晚上黑漆漆的",
    )
    same_words_other_group = "五组的路灯坏了一个多月,晚上黑漆漆的"
    router = routing._router()
    # without the group rule these two would be proposed: the words are the same
    qv = router.dup_vec.vector(routing.tokens(same_words_other_group))
    ov = router.dup_vec.vector(routing.tokens(first.content))
    assert routing.cosine(qv, ov) >= routing.DUPLICATE_THRESHOLD
    found = routing.duplicate_suggest(
        fetched_by=users.township, text=same_words_other_group, area=tree.qixing
    )
    assert found == []
    found = routing.duplicate_suggest(
        fetched_by=users.township, text="三组路灯一个多月冇亮了,晚上黑得很", area=tree.qixing
    )
    assert [a for a, _s in found] == [first]
    # a text naming no group is compared on its words alone
    found = routing.duplicate_suggest(
        fetched_by=users.township, text="路灯坏了一个多月,晚上黑漆漆的", area=tree.qixing
    )
    assert [a for a, _s in found] == [first]
    assert routing.group_marks("从三组到5组的路,二队") == {"3", "5", "2"}


def test_a_group_is_one_whichever_way_its_number_is_written(users, tree):
    assert routing.group_marks("3组") == routing.group_marks("三组") == {"3"}
    assert routing.group_marks("十二组,12队,二十社,两组,03组") == {"12", "20", "2", "3"}
    first = file_appeal(
        actor=users.cadre, area=tree.qixing, code="water", content="三组的自来水停了三天了"
    )
    found = routing.duplicate_suggest(
        fetched_by=users.township, text="3组的自来水停了三天了", area=tree.qixing
    )
    assert [a for a, _s in found] == [first]
    assert (
        routing.duplicate_suggest(
            fetched_by=users.township, text="5组的自来水停了三天了", area=tree.qixing
        )
        == []
    )


def test_a_very_short_text_finds_the_long_one_saying_the_same(users, tree):
    long = file_appeal(
        actor=users.cadre,
        area=tree.qixing,
        code="water",
        content="我们组的自来水停了三天了,水龙头拧开一滴都没有,老人家煮饭都没水,到底什么时候来修",
    )
    router = routing._router()
    qv = router.dup_vec.vector(routing.tokens("停水三天了"))
    ov = router.dup_vec.vector(routing.tokens(long.content))
    # the plain cosine misses it: the long text's other words dilute it
    assert routing.cosine(qv, ov) < routing.DUPLICATE_THRESHOLD
    found = routing.duplicate_suggest(
        fetched_by=users.township, text="停水三天了", area=tree.qixing
    )
    assert [a for a, _s in found] == [long]
    # a short text about another matter of the same category is not proposed
    assert (
        routing.duplicate_suggest(fetched_by=users.township, text="水费太贵了", area=tree.qixing)
        == []
    )


def test_duplicates_are_looked_for_in_nearly_as_likely_categories_only(db):
    router = routing.Router(
        [("road", "道路 修路 路面 桥面"), ("streetlight", "路灯 照明"), ("water", "自来水 停水")],
        [],
    )
    text = "桥头的路灯和桥面都坏了"
    ranked = router.scores(text)
    routes = router.duplicate_routes(text)
    assert len(routes) >= 2 and "water" not in routes
    best, second = ranked[0][0], ranked[1][0]
    assert second in routes and ranked[1][1] >= routing.DUPLICATE_ROUTE_RATIO * ranked[0][1]
    earlier = [("桥头路灯和桥面坏了", second), ("桥头路灯和桥面坏了", "water")]
    in_second, in_far = routing.duplicate_scores(router, earlier, text)
    assert in_second >= routing.DUPLICATE_THRESHOLD and in_far == 0.0
    assert best != second


def test_the_chosen_category_is_searched_besides_the_routes(users, tree):
    misfiled = file_appeal(
        actor=users.cadre,
        area=tree.qixing,
        code="pension",
        content="桥头的路灯坏了一个多月,晚上黑漆漆的,老人家不敢出门",
    )
    text = "桥头那盏路灯一个多月冇亮了,夜里黑得很,老人不敢出来走"
    assert "pension" not in routing._router().duplicate_routes(text)
    assert routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing) == []
    found = routing.duplicate_suggest(
        fetched_by=users.township,
        text=text,
        area=tree.qixing,
        category_id=category("pension").pk,
    )
    assert [a for a, _s in found] == [misfiled]


def test_indexed_scores_equal_the_plain_cosines(db):
    """Router.scores sums dot products over an inverted index of the examples: the same
    figures as the cosine with every example, top 3 per category averaged."""
    cats = [("road", "道路 修路 路面"), ("water", "自来水 停水 水管"), ("power", "停电 电压")]
    examples = [
        ("三组的路烂了,下雨全是泥巴", "road"),
        ("村道压坏了到处是坑", "road"),
        ("自来水停了三天", "water"),
        ("水管爆了冇人修", "water"),
        ("水压太小,水上不来", "water"),
        ("电压低,冰箱都带不动", "power"),
    ]
    router = routing.Router(cats, examples, seeds=[("路面塌了一块", "road")])
    for text in ("路上全是泥巴坑", "停水了,水管爆了", "电压低得很", "完全无关的话"):
        v = router.vec.vector(routing.tokens(text))
        expected = {}
        for code, desc in cats:
            ex = [t for t, c in [*examples, ("路面塌了一块", "road")] if c == code]
            sims = sorted(
                (routing.cosine(v, router.vec.vector(routing.tokens(t))) for t in ex),
                reverse=True,
            )
            s_desc = routing.cosine(v, router.vec.vector(routing.tokens(desc)))
            s_ex = sum(sims[:3]) / min(3, len(sims))
            expected[code] = (1 - router.blend) * s_desc + router.blend * s_ex
        got = router.scores(text)
        assert {c: pytest.approx(s, abs=1e-12) for c, s in got} == expected
        assert [s for _c, s in got] == sorted((s for _c, s in got), reverse=True)
        got.clear()  # the kept result is a copy
        assert len(router.scores(text)) == 3


def test_cantonese_words_and_homophone_typos_are_normalised():
    assert (
        routing.normalise("危方改造,医报,养老精,残疾补帖,水龙投")
        == "危房改造,医保,养老金,残疾补贴,水龙头"
    )
    # Cantonese-influenced words: for duplicates; routing keeps them as written
    text = "我哋条巷啲路登坏咗,佢唔理"
    assert routing.normalise(text, same_matter=True) == "我们条巷些路灯坏了,他不理"
    assert routing.normalise(text) == "我哋条巷啲路灯坏咗,佢唔理"
    assert routing.normalise("屋企细路落雨唔返嚟", same_matter=True) == "家里孩子下雨不返来"


def test_same_matter_words_are_joined_for_duplicates_only():
    text = "隔壁屋的房檐滴水到我院坝,细伢子也冇得水吃"
    # routing keeps the words as said: 邻居 or 稻 alone would tip the category
    assert routing.normalise(text) == "隔壁家的房檐滴水到我院坝,小孩也没有水吃"
    assert routing.normalise(text, same_matter=True) == "邻居家的屋檐滴水到我院子,孩子也停水"
    assert routing.normalise("稻子谷子冇效", same_matter=True) == "稻稻没用"
    # a text without such words is cut once: its routing tokens are its duplicate tokens
    toks = routing.tokens("三组路灯坏了")
    assert routing.dup_tokens("三组路灯坏了", toks) is toks
    assert routing.dup_tokens("隔壁路灯坏了") == routing.tokens("邻居路灯坏了")


@pytest.mark.parametrize(
    ("code", "earlier", "text"),
    [
        (
            "streetlight",
            "巷子里的路灯坏了快一个月了没人修,晚上黑漆漆的",
            "我哋条巷啲路灯坏咗成个月,夜晚黑麻麻,老人家唔敢出街",
        ),
        (
            "neighbour",
            "邻居家房檐的水滴到我院子里,说了他也不听",
            "隔壁屋修房子,屋檐滴水全部滴到我屋院坝里,讲了几次都不改",
        ),
        (
            "power",
            "马鞍村二组从昨天晚上停电到现在,冰箱的东西都坏了,供电所电话打不通",
            "昨晚黑打雷以后就停电了,到现在还冇来电,冰箱里的肉要臭了",
        ),
    ],
)
def test_one_matter_said_in_other_words_is_proposed(users, tree, code, earlier, text):
    first = file_appeal(actor=users.cadre, area=tree.qixing, code=code, content=earlier)
    router = routing._router()
    # without the normalisation the words barely meet
    before = routing.cosine(
        router.dup_vec.vector(routing.tokens(text)),
        router.dup_vec.vector(routing.tokens(earlier)),
    )
    assert before < routing.DUPLICATE_THRESHOLD
    found = routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing)
    assert [a for a, _s in found] == [first]


@pytest.mark.parametrize(
    ("code", "earlier", "text"),
    [
        # same neighbours, other problem
        ("neighbour", "隔壁的狗咬死了我屋三只鸡,他不认账", "对门的狗天天晚上叫,吵得睡不着"),
        # same kind of matter, other group
        ("water", "三组冇得水吃三天了", "五组冇得水吃三天了"),
        # same group, other problem
        ("power", "四组的电杆歪了,电线垂得好低,怕电到人", "四组电压低,晚上电饭煲都煮不熟饭"),
    ],
)
def test_a_look_alike_is_not_proposed(users, tree, code, earlier, text):
    file_appeal(actor=users.cadre, area=tree.qixing, code=code, content=earlier)
    assert routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing) == []


def test_duplicate_weights_do_not_depend_on_the_history():
    """The threshold was set with an IDF from the descriptions: a county's past matters
    change the routes, never a duplicate score's weights."""
    cats = [("road", "道路 修路 路面"), ("streetlight", "路灯 照明"), ("water", "自来水 停水")]
    history = [("三组路灯坏了,晚上很黑", "streetlight")] * 40 + [("停水三天了", "water")] * 10
    bare = routing.Router(cats, [])
    grown = routing.Router(cats, history, seeds=[("路面塌了一块", "road")])
    for text in ("三组路灯坏了一个月", "隔壁屋冇得水吃"):
        assert grown.dup_vector(text) == bare.dup_vector(text)
    # while the routing weights do change with the history
    assert grown.vec.vector(routing.tokens("三组路灯坏了")) != bare.vec.vector(
        routing.tokens("三组路灯坏了")
    )


def test_the_kind_of_problem_is_read_from_the_words():
    assert routing.problem_marks("路灯坏了") == routing.problem_marks("球场路灯冇亮") == {"out"}
    assert routing.problem_marks("祠堂门口那盏路灯成晚亮住") == {"on"}
    assert routing.problem_marks("水池子漏水了") == {"leak"}
    # dialect first: 冇得水吃 is 停水, 遭偷 is 被偷
    assert (
        routing.problem_marks("冇得水吃三天了") == routing.problem_marks("停水三天") == {"supply"}
    )
    assert routing.problem_marks("我屋牛遭偷了") == {"theft"}
    assert routing.problem_marks("村部门口有棵树") == frozenset()
    # a word holding a problem word without naming one: 偷偷 is not 偷
    assert routing.problem_marks("有人偷偷在耕地上挖鱼塘") == frozenset()
    assert routing.dup_marks("三组路灯不亮") == (frozenset({"3"}), frozenset({"out"}))


@pytest.mark.parametrize(
    ("code", "earlier", "text"),
    [
        ("streetlight", "祠堂门口的路灯坏了", "祠堂门口那盏路灯成晚亮住,白天也不关"),
        ("water", "寨子里的水池子漏水了,水存不住", "寨子里的水池子好久没洗,有死老鼠,水都臭了"),
        ("water", "三组的水管爆了,水流了一地", "三组的水管里放出来的水浑得很,有泥沙"),
    ],
)
def test_the_same_thing_with_another_problem_is_not_proposed(users, tree, code, earlier, text):
    file_appeal(actor=users.cadre, area=tree.qixing, code=code, content=earlier)
    router = routing._router()
    qv, ov = router.dup_vector(text), router.dup_vector(earlier)
    no_problems = (frozenset(), frozenset())
    # on the words alone they would be proposed: the place and the thing are the same
    assert routing.duplicate_score(qv, no_problems, ov, no_problems) >= routing.DUPLICATE_THRESHOLD
    assert routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing) == []


@pytest.mark.parametrize(
    ("code", "earlier", "text"),
    [
        (
            "streetlight",
            "村部门口篮球场那几盏路灯坏了好久,晚上跳广场舞的老人摸黑,麻烦派人换下灯泡",
            "球场路灯不亮",
        ),
        ("water", "四组的水管被石头砸断了,冇得水吃两天了,哪个来管一下", "4组水管断了,停水两天"),
    ],
)
def test_the_same_problem_in_other_words_is_proposed(users, tree, code, earlier, text):
    first = file_appeal(actor=users.cadre, area=tree.qixing, code=code, content=earlier)
    found = routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing)
    assert [a for a, _s in found] == [first]
    # the same kind of problem raised the score: on the words alone it is lower
    router = routing._router()
    qv, ov = router.dup_vector(text), router.dup_vector(earlier)
    groups = routing.group_marks(text), routing.group_marks(earlier)
    plain = routing.duplicate_score(qv, (groups[0], frozenset()), ov, (groups[1], frozenset()))
    assert plain < found[0][1]


def _fake_embedder(groups):
    """An embedding saying which texts are one matter: texts of the same group (a list of
    substrings) get the same unit vector, others orthogonal ones."""

    def embed(texts):
        out = []
        for t in texts:
            v = [0.0] * (len(groups) + len(texts))
            hit = next((i for i, g in enumerate(groups) if any(s in t for s in g)), None)
            v[hit if hit is not None else len(groups) + texts.index(t)] = 1.0
            out.append(v)
        import numpy as np

        return np.array(out)

    return embed


def test_embedding_finds_paraphrases_the_words_miss(users, tree, monkeypatch):
    pytest.importorskip("numpy")
    earlier = "五组那口井干了,几十户人吃水要到三里外去挑"
    text = "5组缺水"
    first = file_appeal(actor=users.cadre, area=tree.qixing, code="water", content=earlier)
    other = file_appeal(actor=users.cadre, area=tree.qixing, code="road", content="村口的桥断了")
    assert routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing) == []
    monkeypatch.setitem(routing._embed_state, "fn", _fake_embedder([["井干", "缺水"]]))
    routing.forget()
    found = routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing)
    assert [a for a, _s in found] == [first]
    assert found[0][1] >= routing.EMBED_THRESHOLD
    assert other not in [a for a, _s in found]


def test_embedding_crosses_the_category_filter_only_when_sure(users, tree, monkeypatch):
    pytest.importorskip("numpy")
    # filed under education (the router reads 上学), the same broken bridge as the road report
    first = file_appeal(
        actor=users.cadre, area=tree.qixing, code="education", content="小孩上学要过的那座桥塌了"
    )
    text = "村头的便桥垮了,过不去"
    router = routing._router()
    assert "education" not in router.duplicate_routes(text)
    earlier = [(first.content, "education")]
    same = _fake_embedder([["桥塌", "便桥垮"]])
    assert routing.duplicate_scores(router, earlier, text) == [0.0]
    assert routing.duplicate_scores(router, earlier, text, same)[0] >= routing.EMBED_THRESHOLD
    # an embedding not sure enough leaves the filter in place
    unsure = _fake_embedder([])
    assert routing.duplicate_scores(router, earlier, text, unsure) == [0.0]
    # different groups are never one matter, whatever the embedding says
    earlier = [("三组小孩上学要过的那座桥塌了", "road")]
    assert routing.duplicate_scores(router, earlier, "五组便桥垮了", same) == [0.0]
    monkeypatch.setitem(routing._embed_state, "fn", same)
    routing.forget()
    found = routing.duplicate_suggest(fetched_by=users.township, text=text, area=tree.qixing)
    assert [a for a, _s in found] == [first]


def test_embedder_is_optional(monkeypatch):
    monkeypatch.delitem(routing._embed_state, "fn")
    monkeypatch.delenv("MINQING_EMBEDDINGS", raising=False)
    assert routing.embedder() is None  # off by default, installed or not
    monkeypatch.delitem(routing._embed_state, "fn")
    monkeypatch.setenv("MINQING_EMBEDDINGS", "0")
    assert routing.embedder() is None
    assert routing.duplicate_threshold() == routing.DUPLICATE_THRESHOLD
    monkeypatch.setitem(routing._embed_state, "fn", None)


# -- the router's copy follows the category table ----------------------------------------------


def _codes():
    return {c for c, _d in routing._router().categories}


def test_a_category_saved_or_deleted_rebuilds_the_router_here_and_elsewhere(
    db, tree, django_capture_on_commit_callbacks
):
    from minqing.appeals.models import Category
    from minqing.core import proc_cache

    assert "noise" not in _codes()
    with django_capture_on_commit_callbacks(execute=True):
        new = Category.objects.create(code="noise", name="噪音扰民", description="广场舞 吵 噪音")
    assert "noise" in _codes()  # this process: at once
    with django_capture_on_commit_callbacks(execute=True):
        new.delete()
    assert "noise" not in _codes()
    # another process's change reaches this one through the shared version (within a
    # second): the version it published, as seen here once the second has passed
    before = routing._router()
    Category.objects.bulk_create([Category(code="noise", name="噪音扰民")])  # no signal
    assert routing._router() is before
    proc_cache.cache.set(proc_cache._key(routing.ROUTER_VERSION), 42, None)
    proc_cache._versions.clear()
    assert "noise" in _codes()


def test_an_empty_category_table_is_not_kept_for_long(db, tree):
    """A table read while empty (truncated, being restored: no signal) is kept seconds,
    not the ten minutes a real table is."""
    from django.db import connection

    from minqing.appeals.models import Category

    rows = list(Category.objects.all())
    with connection.cursor() as cur:  # as a truncate or a restore does: no signal
        cur.execute("DELETE FROM appeals_category")
    empty = routing._router()
    assert empty.categories == [] and routing._cache["router"][3] <= 5
    Category.objects.bulk_create(rows)
    assert routing._router() is empty  # kept for those seconds
    at, *rest = routing._cache["router"]
    routing._cache["router"] = (at - 6, *rest)
    assert "road" in _codes()
    assert routing._cache["router"][3] == routing._CACHE_SECONDS
