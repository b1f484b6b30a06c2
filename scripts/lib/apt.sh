# apt.sh, sourced by scripts that install what they need: apt_install PACKAGE... installs Debian packages,
# running `apt-get update` once first. The sourcing script provides INSTALL (1: allowed), WORK (a folder for
# apt.log) and log (a function). Returns non-zero when installing is not allowed or failed.
APT_UPDATED=0
apt_install() {
    [[ $INSTALL -eq 1 ]] || return 1
    command -v apt-get >/dev/null || return 1
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        timeout 300 apt-get update -qq >/dev/null 2>&1 || true
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "$@" >"$WORK/apt.log" 2>&1
}
