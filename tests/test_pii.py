from lanhai.pii import mask, token, token_col


def test_token_is_hmac_sha256_and_spark_agrees(spark):
    key = b"k3y"
    rows = [("13812345678",), ("",), (None,), ("110101199003074518",)]
    df = spark.createDataFrame(rows, "v string")
    got = [r[0] for r in df.select(token_col(df.v, key)).collect()]
    # Known HMAC-SHA256 vector (RFC 4231 style, computed independently by Python's hmac).
    assert token("13812345678", key) == got[0]
    assert got[0].startswith("tok_") and len(got[0]) == 68
    assert got[1] is None and got[2] is None
    assert got[3] == token("110101199003074518", key)
    assert token("13812345678", b"other") != got[0]


def test_rfc4231_case_2():
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    assert token("what do ya want for nothing?", b"Jefe") == (
        "tok_5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_mask_hides_phone_id_and_email_but_not_tokens():
    text = "U1,13812345678,11010119900307451X,a.b@qq.com,tok_13812345678abc,wxid_1381234"
    assert mask(text) == "U1,[PHONE],[ID_CARD],[EMAIL],tok_13812345678abc,wxid_1381234"


def test_a_key_ring_tokenises_with_each_newer_key_over_the_older_token(spark):
    """After a rotation (lanhai.rotation) the ring's token of a value is the new key's token of
    the old token: what a re-keyed table holds, so old and new rows still join."""
    old, new = b"old-key", b"new-key"
    assert token("13812345678", (old, new)) == token(token("13812345678", old), new)
    assert token("13812345678", (old,)) == token("13812345678", old)
    df = spark.createDataFrame([("13812345678",), (None,), ("",)], "v string")
    got = [r[0] for r in df.select(token_col(df.v, [old, new])).collect()]
    assert got == [token("13812345678", (old, new)), None, None]


def test_free_text_is_masked_in_place_and_personal_fields_tokenised(spark):
    """A contract's `pii: free_text` field (a review's text) keeps its words with the personal
    data in it masked; a phone field becomes its token; other fields pass as they are."""
    from pyspark.sql import functions as F

    from lanhai.pii import protect_col

    text = ("質量很好。有問題可以打我電話13912345678，或 buyer1@example.com，"
            "身份證號11010119900307451X")
    df = spark.createDataFrame([(text, "13812345678", "U1"), (None, None, None)],
                               "t string, p string, u string")
    got = df.select(protect_col(F.col("t"), "free_text", b"k"), protect_col(F.col("p"), "phone",
                                                                          b"k"),
                    protect_col(F.col("u"), None, b"k")).collect()
    assert got[0][0] == "質量很好。有問題可以打我電話[PHONE]，或 [EMAIL]，身份證號[ID_CARD]"
    assert got[0][1] == token("13812345678", b"k") and got[0][2] == "U1"
    assert tuple(got[1]) == (None, None, None)
