# Sourced by scripts/test.sh: a headless Chromium for the browser tests of the web face.
#   chromium_setup   installs Debian's `chromium` if missing and exports FACILITATOR_TEST_CHROMIUM
# Uses apt-get (as root, or through sudo); refreshes the package lists only when the package
# is not found in them.

chromium_setup() {
    local bin
    bin=$(command -v chromium || command -v chromium-browser || true)
    if [ -z "$bin" ]; then
        echo "chromium: installing Debian's chromium (once)"
        local apt=(apt-get)
        if [ "$(id -u)" != 0 ]; then apt=(sudo apt-get); fi
        if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q chromium >/dev/null 2>&1; then
            DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -q >/dev/null
            DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q chromium >/dev/null
        fi
        bin=$(command -v chromium)
    fi
    export FACILITATOR_TEST_CHROMIUM="$bin"
}
