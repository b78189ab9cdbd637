"""Packaging checks: the Dockerfile, the systemd unit and `make install`.

Run through scripts/packaging-tests.sh, which installs the tools these need (hadolint,
systemd-analyze, readelf, make) and builds the release binary. APPCONFIG_AGENT_BINARY names another
binary to check instead of .build/release/appconfig-agent.
"""

import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("APPCONFIG_AGENT_BINARY", ROOT / ".build" / "release" / "appconfig-agent"))
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
UNIT = ROOT / "systemd" / "appconfig-agent.service"
MAX_EXPOSURE = 1.5

# Packages of debian:bookworm-slim (priority "required", in every Debian image) that the runtime
# stage may rely on without naming them. Deliberately small: anything else the binary links is
# installed explicitly, so that a slimmer base image cannot drop it silently.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1"}


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def require_tool(name):
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed: run scripts/packaging-tests.sh, which installs it")
    return path


def dockerfile_instructions():
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        # Comments and empty lines end nothing, even inside a continued instruction.
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, rest = full.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def stages():
    """The Dockerfile's stages, each a list of instructions starting with its FROM."""
    result = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def apt_installed_packages(stage):
    """Package names given to `apt-get install` in a stage's RUN instructions."""
    packages = []
    for keyword, arguments in stage:
        if keyword != "RUN":
            continue
        words = shlex.split(arguments)
        for index, word in enumerate(words):
            if word == "install" and index > 0 and words[index - 1] == "apt-get":
                for argument in words[index + 1:]:
                    if argument in ("&&", ";", "||", "|"):
                        break
                    if not argument.startswith("-"):
                        packages.append(argument.split("=")[0])
    return packages


def ldd_libraries(binary):
    """{soname: resolved path} of every shared library the dynamic loader maps for the binary."""
    result = run("ldd", str(binary))
    if result.returncode != 0:
        raise AssertionError(f"ldd {binary} failed: {result.stderr}")
    libraries = {}
    for line in result.stdout.splitlines():
        match = re.match(r"\s*(\S+) => (.+?) \(0x[0-9a-f]+\)", line)
        if match:
            libraries[match.group(1)] = match.group(2)
        elif "not found" in line:
            raise AssertionError(f"ldd cannot resolve a library of {binary}: {line.strip()}")
    return libraries


def needed_libraries(binary):
    """The sonames the binary itself names (DT_NEEDED), not those its libraries pull in."""
    result = run(require_tool("readelf"), "-dW", str(binary))
    if result.returncode != 0:
        raise AssertionError(f"readelf -d {binary} failed: {result.stderr}")
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", result.stdout)


def owning_packages(paths):
    """{path: Debian package shipping it}, from one dpkg-query call. usrmerge means dpkg may know a
    library under /usr/lib or /lib, as the symbolic link or as the file it points to."""
    candidates = {}
    for path in paths:
        for candidate in (path, os.path.realpath(path)):
            candidates.setdefault(candidate, path)
            if candidate.startswith("/usr/lib/"):
                candidates.setdefault(candidate[len("/usr"):], path)
            elif candidate.startswith("/lib/"):
                candidates.setdefault("/usr" + candidate, path)
    # Exit status 1 only means some candidates are unknown; the others are answered.
    result = run("dpkg-query", "-S", *candidates)
    owners = {}
    for line in result.stdout.splitlines():
        packages, _, candidate = line.rpartition(": ")
        if candidate in candidates:
            owners.setdefault(candidates[candidate], packages.split(",")[0].split(":")[0].strip())
    unknown = sorted(set(paths) - set(owners))
    if unknown:
        raise AssertionError(f"no installed Debian package ships {unknown}")
    return owners


def installed_dependency_closure(packages):
    """The packages plus everything they depend on (Depends, Pre-Depends), following dpkg's
    database of installed packages (alternatives and virtual packages resolved to what is installed)."""
    result = run("dpkg-query", "-W", "-f=${Package}\t${Provides}\t${Pre-Depends}, ${Depends}\n")
    depends, providers = {}, {}
    for line in result.stdout.splitlines():
        name, provides, requirements = (line.split("\t") + ["", ""])[:3]
        depends[name] = requirements
        for provided in provides.split(","):
            provided = provided.split("(")[0].strip()
            if provided:
                providers.setdefault(provided, set()).add(name)
    closure, queue = set(), list(packages)
    while queue:
        name = queue.pop()
        if name in closure:
            continue
        closure.add(name)
        for clause in depends.get(name, "").split(","):
            for alternative in clause.split("|"):
                dependency = alternative.split("(")[0].strip().split(":")[0]
                if not dependency:
                    continue
                if dependency in depends:
                    queue.append(dependency)
                queue.extend(providers.get(dependency, ()))
    return closure


class DockerfileTests(unittest.TestCase):
    def test_hadolint_reports_nothing(self):
        result = run(require_tool("hadolint"), "--no-color", str(DOCKERFILE))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout.strip(), "", "hadolint findings (fix, or ignore inline with a reason)")

    def test_build_stage_builds_the_release_binary_with_static_swift_stdlib(self):
        build = stages()[0]
        self.assertRegex(build[0][1], r"^swift:6\.3-bookworm\b")
        runs = " ".join(arguments for keyword, arguments in build if keyword == "RUN")
        self.assertIn("swift build -c release --product appconfig-agent --static-swift-stdlib", runs)
        self.assertTrue({"libevent-dev", "libcurl4-openssl-dev", "libssl-dev", "pkg-config"}
                        <= set(apt_installed_packages(build)))

    def test_runtime_stage_is_slim_non_root_and_checks_its_health(self):
        runtime = stages()[-1]
        self.assertEqual(runtime[0][1], "debian:bookworm-slim")
        settings = {keyword: arguments for keyword, arguments in runtime}
        self.assertRegex(settings["USER"], r"^[1-9][0-9]*(:[0-9]+)?$", "USER must be a numeric, non-root uid")
        self.assertEqual(settings["EXPOSE"], "2772")
        self.assertRegex(settings["ENV"], r"(^|\s)HTTP_HOST=all(\s|$)")
        self.assertEqual(settings["STOPSIGNAL"], "SIGTERM")
        self.assertEqual(settings["ENTRYPOINT"], '["/usr/local/bin/appconfig-agent"]')
        self.assertTrue(settings["HEALTHCHECK"].endswith('CMD ["/usr/local/bin/appconfig-agent", "healthcheck"]'),
                        "the health check must run the agent itself, in exec form (no shell in the image)")
        copies = [arguments for keyword, arguments in runtime if keyword == "COPY"]
        self.assertEqual(copies, ["--from=build /out/appconfig-agent /usr/local/bin/appconfig-agent"])

    def test_every_apt_install_skips_recommends_and_removes_lists(self):
        for stage in stages():
            for keyword, arguments in stage:
                if keyword == "RUN" and "apt-get install" in arguments:
                    self.assertIn("--no-install-recommends", arguments)
                    self.assertIn("rm -rf /var/lib/apt/lists/*", arguments)

    def test_runtime_stage_installs_every_library_the_binary_names(self):
        if not BINARY.exists():
            self.fail(f"{BINARY} is missing: build it (scripts/packaging-tests.sh does)")
        installed = set(apt_installed_packages(stages()[-1]))
        libraries = ldd_libraries(BINARY)
        # The dynamic loader is named too, but ldd lists it without "=>": it is libc6's.
        needed = {soname: libraries[soname] for soname in needed_libraries(BINARY) if soname in libraries}
        owners = owning_packages(needed.values())
        missing = {soname: owners[path] for soname, path in needed.items()
                   if owners[path] not in installed | BASE_IMAGE_PACKAGES}
        self.assertEqual(missing, {}, "libraries the binary links directly whose package the runtime stage does not install")

    def test_runtime_stage_brings_every_library_ldd_lists(self):
        if not BINARY.exists():
            self.fail(f"{BINARY} is missing: build it (scripts/packaging-tests.sh does)")
        closure = installed_dependency_closure(set(apt_installed_packages(stages()[-1])) | BASE_IMAGE_PACKAGES)
        libraries = ldd_libraries(BINARY)
        owners = owning_packages(libraries.values())
        missing = {soname: owners[path] for soname, path in libraries.items() if owners[path] not in closure}
        self.assertEqual(missing, {}, "libraries ldd lists that neither the runtime stage's packages nor their dependencies bring")

    def test_runtime_stage_installs_the_libraries_the_agent_loads_at_run_time(self):
        # libcurl is opened with dlopen (only AWS mode needs it), so ldd does not list it: the
        # sonames come from the shim that opens them.
        sonames = re.findall(r'dlopen\("([^"]+)"', (ROOT / "Sources" / "CCurl" / "shim.h").read_text())
        self.assertEqual(sonames, ["libcurl.so.4"])
        cache = run("ldconfig", "-p").stdout
        paths = {}
        for soname in sonames:
            found = re.search(rf"^\s*{re.escape(soname)} \(libc6,x86-64[^)]*\) => (\S+)$", cache, re.MULTILINE) \
                or re.search(rf"^\s*{re.escape(soname)} .*=> (\S+)$", cache, re.MULTILINE)
            self.assertIsNotNone(found, f"{soname} is not installed here")
            paths[soname] = found.group(1)
        owners = owning_packages(paths.values())
        installed = set(apt_installed_packages(stages()[-1]))
        missing = {soname: owners[path] for soname, path in paths.items() if owners[path] not in installed}
        self.assertEqual(missing, {}, "libraries the agent dlopens whose package the runtime stage does not install")

    def test_dockerignore_keeps_build_output_out_and_sources_in(self):
        lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
        self.assertEqual(lines[0], "*", "exclude everything, then re-include what the build copies")
        for source in ("Package.swift", "Sources/", "Tests/"):
            self.assertIn("!" + source, lines)
        self.assertFalse(any(line.startswith("!.build") for line in lines))


class SystemdUnitTests(unittest.TestCase):
    def unit_settings(self, path=UNIT):
        settings = {}
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
                key, _, value = line.partition("=")
                settings.setdefault(key.strip(), []).append(value.strip())
        return settings

    def unit_with_exec_start(self, directory, executable):
        """A copy of the unit whose ExecStart names an executable that exists here."""
        text = UNIT.read_text()
        copy = Path(directory) / UNIT.name
        copy.write_text(re.sub(r"^ExecStart=\S+", f"ExecStart={executable}", text, flags=re.M))
        return copy

    def dummy_executable(self, directory):
        path = Path(directory) / "appconfig-agent"
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
        return path

    def test_systemd_analyze_verify_is_clean(self):
        analyze = require_tool("systemd-analyze")
        with tempfile.TemporaryDirectory() as directory:
            unit = self.unit_with_exec_start(directory, self.dummy_executable(directory))
            result = run(analyze, "verify", str(unit))
        output = (result.stdout + result.stderr).strip()
        self.assertEqual(result.returncode, 0, output)
        self.assertEqual(output, "", "systemd-analyze verify has something to say")

    def test_security_exposure_is_at_most_1_5(self):
        analyze = require_tool("systemd-analyze")
        result = run(analyze, "security", "--offline=true", "--no-pager", str(UNIT))
        match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
        self.assertIsNotNone(match, result.stdout + result.stderr)
        exposure = float(match.group(1))
        print(f"\nsystemd-analyze security: overall exposure {exposure}", end=" ... ", flush=True)
        self.assertLessEqual(exposure, MAX_EXPOSURE, result.stdout)

    def test_unit_notifies_reads_both_environment_files_and_runs_the_installed_binary(self):
        settings = self.unit_settings()
        self.assertEqual(settings["Type"], ["notify"])
        self.assertEqual(settings["NotifyAccess"], ["main"])
        self.assertIn("WatchdogSec", settings)
        self.assertEqual(settings["EnvironmentFile"],
                         ["-/etc/sysconfig/appconfig-agent", "-/etc/default/appconfig-agent"])
        self.assertEqual(settings["ExecStart"], ["/usr/local/bin/appconfig-agent"])
        self.assertEqual(settings["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertIn("BACKUP_DIRECTORY=/var/lib/appconfig-agent", settings["Environment"])
        self.assertEqual(settings["StateDirectory"], ["appconfig-agent"])
        # The notification socket is AF_UNIX: without it READY=1 never arrives and start-up times out.
        self.assertIn("AF_UNIX", settings["RestrictAddressFamilies"][0].split())

    def test_open_file_limit_leaves_room_for_every_client_connection(self):
        # MAX_CLIENT_CONNECTIONS defaults to 1024; systemd's default soft limit is 1024 too, and the
        # agent needs descriptors of its own besides.
        limits = self.unit_settings().get("LimitNOFILE", [])
        self.assertEqual(len(limits), 1, "LimitNOFILE= set once")
        soft = limits[0].split(":")[0]
        self.assertGreaterEqual(int(soft), 1024 + 64)

    def test_makefile_default_prefix_matches_exec_start(self):
        makefile = (ROOT / "Makefile").read_text()
        self.assertRegex(makefile, r"(?m)^PREFIX \?= /usr/local$")


class MakeInstallTests(unittest.TestCase):
    def make(self, *arguments):
        result = run(require_tool("make"), "-C", str(ROOT), *arguments)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.destdir = Path(self.directory.name) / "root"
        self.binary = Path(self.directory.name) / "appconfig-agent"
        self.binary.write_text("#!/bin/sh\nexit 0\n")
        self.binary.chmod(0o700)

    def tearDown(self):
        self.directory.cleanup()

    def mode(self, relative):
        path = self.destdir / relative
        self.assertTrue(path.is_file(), f"{relative} is not installed")
        return stat.S_IMODE(path.stat().st_mode)

    def test_install_lays_out_binary_unit_sysusers_and_settings_with_their_modes(self):
        self.make("install", f"DESTDIR={self.destdir}", f"BINARY={self.binary}")
        self.assertEqual(self.mode("usr/local/bin/appconfig-agent"), 0o755)
        self.assertEqual(self.mode("usr/local/lib/systemd/system/appconfig-agent.service"), 0o644)
        self.assertEqual(self.mode("usr/local/lib/sysusers.d/appconfig-agent.conf"), 0o644)
        self.assertEqual(self.mode("etc/default/appconfig-agent"), 0o600)
        installed = sorted(str(path.relative_to(self.destdir)) for path in self.destdir.rglob("*") if path.is_file())
        self.assertEqual(installed, [
            "etc/default/appconfig-agent",
            "usr/local/bin/appconfig-agent",
            "usr/local/lib/systemd/system/appconfig-agent.service",
            "usr/local/lib/sysusers.d/appconfig-agent.conf",
        ])
        sysusers = (self.destdir / "usr/local/lib/sysusers.d/appconfig-agent.conf").read_text()
        self.assertRegex(sysusers, r"(?m)^u appconfig-agent ")

    def test_installed_unit_runs_the_binary_from_the_chosen_prefix(self):
        self.make("install", f"DESTDIR={self.destdir}", f"BINARY={self.binary}", "PREFIX=/usr")
        unit = (self.destdir / "usr/lib/systemd/system/appconfig-agent.service").read_text()
        self.assertRegex(unit, r"(?m)^ExecStart=/usr/bin/appconfig-agent$")
        self.assertTrue((self.destdir / "usr/bin/appconfig-agent").is_file())

    def test_install_keeps_existing_settings_and_uninstall_leaves_them(self):
        settings = self.destdir / "etc/default/appconfig-agent"
        settings.parent.mkdir(parents=True)
        settings.write_text("LOG_LEVEL=debug\n")
        self.make("install", f"DESTDIR={self.destdir}", f"BINARY={self.binary}")
        self.assertEqual(settings.read_text(), "LOG_LEVEL=debug\n")
        self.make("uninstall", f"DESTDIR={self.destdir}")
        remaining = [str(path.relative_to(self.destdir)) for path in self.destdir.rglob("*") if path.is_file()]
        self.assertEqual(remaining, ["etc/default/appconfig-agent"])

    def test_install_refuses_without_a_built_binary(self):
        result = run(require_tool("make"), "-C", str(ROOT), "install",
                     f"DESTDIR={self.destdir}", f"BINARY={self.directory.name}/missing")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("make build", result.stderr)
        self.assertFalse(self.destdir.exists())


if __name__ == "__main__":
    unittest.main()
