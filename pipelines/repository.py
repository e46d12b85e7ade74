"""Links into the repository host (GitHub, GitLab, Bitbucket) for commits and comparisons."""

from urllib.parse import urlparse


def _host_kind(repository_url: str) -> str | None:
    host = urlparse(repository_url).hostname or ""
    if host == "github.com" or host.startswith("github."):
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if host == "bitbucket.org":
        return "bitbucket"
    return None


def commit_url(repository_url: str, sha: str) -> str | None:
    base = repository_url.rstrip("/").removesuffix(".git")
    match _host_kind(repository_url):
        case "github":
            return f"{base}/commit/{sha}"
        case "gitlab":
            return f"{base}/-/commit/{sha}"
        case "bitbucket":
            return f"{base}/commits/{sha}"
    return None


def compare_url(repository_url: str, base_sha: str, head_sha: str) -> str | None:
    """What `head` adds to `base`, on hosts with a compare view (GitHub, GitLab)."""
    base = repository_url.rstrip("/").removesuffix(".git")
    match _host_kind(repository_url):
        case "github":
            return f"{base}/compare/{base_sha}...{head_sha}"
        case "gitlab":
            return f"{base}/-/compare/{base_sha}...{head_sha}"
    return None
