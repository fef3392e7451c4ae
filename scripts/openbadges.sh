# Sourced by scripts/test.sh: 1EdTech's Open Badges validator (PyPI `openbadges` 1.1.2, with
# `openbadges-bakery`) and `jwcrypto` (the Open Badges 3.0 check) in a venv under
# target/openbadges (installed once), for the tests of the hosted badges.
#   openbadges_setup   installs it if missing and exports FACILITATOR_TEST_OB_PYTHON
# Its pinned dependencies no longer import on Python 3.11: they are upgraded after it
# (pycryptodome, python-jose, pytz, jsonschema, validators), with PyLD kept at 1.x (2.x and 3.x
# expect a parsed document from its loader). See docs/web.md.

OPENBADGES_ROOT="${OPENBADGES_ROOT:-$PWD/target/openbadges}"

openbadges_setup() {
    local venv="$OPENBADGES_ROOT/venv"
    if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import openbadges, openbadges_bakery' 2>/dev/null; }; then
        echo "openbadges: installing 1EdTech's validator into $venv (once)"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "openbadges==1.1.2"
        "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade \
            "pycryptodome>=3.19" "python-jose>=3.3" pytz jsonschema validators "PyLD==1.0.5" 2>&1 \
            | grep -v "dependency conflicts\|requires .* but you have\|dependency resolver" || true
        "$venv/bin/python" -c 'import openbadges, openbadges_bakery'
    fi
    # The independent Open Badges 3.0 check (scripts/ob3_verify.py): jwcrypto.
    if ! "$venv/bin/python" -c 'import jwcrypto' 2>/dev/null; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check "jwcrypto>=1.5"
    fi
    export FACILITATOR_TEST_OB_PYTHON="$venv/bin/python"
}
