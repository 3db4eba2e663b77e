# Container checks shared by scripts/deps and scripts/preflight (sourced, not run).
#
# On the build machines of this project a recipe beside the repository (../shared/containers)
# installs the engine and makes the base images without a registry; its env.sh selects the docker
# CLI that drives BuildKit there. Elsewhere these functions check the ordinary Docker setup.

# KEYCARD_CONTAINERS_RECIPE names another recipe directory; set it empty to ignore the recipe.
containers_recipe=""
recipe_dir=${KEYCARD_CONTAINERS_RECIPE-../shared/containers}
if [ -n "$recipe_dir" ] && [ -x "$recipe_dir/engine-up" ]; then
    containers_recipe=$(cd "$recipe_dir" && pwd)
    # shellcheck disable=SC1091
    [ -f "$containers_recipe/env.sh" ] && . "$containers_recipe/env.sh"
fi

# The base images the Dockerfile and compose.yaml use (FROM args' defaults and `image:` lines).
base_images() {
    sed -n 's/^ARG [A-Z_]*IMAGE=\(.*\)$/\1/p' Dockerfile
    sed -n 's/^ *image: *\([^ ]*\).*$/\1/p' compose.yaml | grep -v ':local$'
}

# The engine's version, or nothing when no engine answers.
engine_version() {
    docker version --format '{{.Server.Version}}' 2>/dev/null
}

# Compose v2's version (`docker compose`, not the old `docker-compose` v1), or nothing.
compose_version() {
    local v
    v=$(docker compose version --short 2>/dev/null | sed 's/^v//')
    case "$v" in [2-9].* | [1-9][0-9]*.*) echo "$v" ;; esac
}

# True when `docker build` can use BuildKit, which the Dockerfile needs (RUN --mount): through
# the buildx plugin, or, with a CLI older than 23, through DOCKER_BUILDKIT=1 and the daemon's own.
buildkit_ok() {
    docker buildx version >/dev/null 2>&1 && return 0
    local cli
    cli=$(docker version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)
    [ "${DOCKER_BUILDKIT:-}" = 1 ] && [ -n "$cli" ] && [ "$cli" -lt 23 ] 2>/dev/null
}

# Prints the base images that are not on this machine, one per line.
missing_base_images() {
    local img
    for img in $(base_images); do
        docker image inspect "$img" >/dev/null 2>&1 || echo "$img"
    done
}
