"""experiments.audit_log: the audit trail as people read it (CLI `experiment audit`, the strategy page)."""


def test_readable_detail_prints_the_stored_json_for_people():
    from experiments.audit_log import readable_detail

    assert readable_detail('{"cohort": "at-risk", "version": 2, "users": 13822}') == "cohort: at-risk; version: 2; users: 13,822"
    # empty fields are left out, booleans read yes/no, lists of objects are parenthesised
    assert (readable_detail('{"arms": [{"key": "control", "treatment": null, "is_control": true}], "notes": [], "x": 0.25}')
            == "arms: (key: control; is control: yes); x: 0.25")
    assert readable_detail("not json {") == "not json {" and readable_detail("") == "" and readable_detail("{}") == ""
