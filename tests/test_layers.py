"""The layers contract names every module of every domain package, so a new module is checked too."""

import configparser
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _contract():
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config["importlinter:contract:domain-layers"]


def test_every_module_of_a_domain_package_is_in_a_layer():
    contract = _contract()
    containers = contract["containers"].split()
    named = {
        part.strip().strip("()")
        for line in contract["layers"].strip().splitlines()
        for part in line.replace("|", ":").split(":")
    }
    assert containers, "the contract lists the domain packages"
    unnamed = [
        f"{container}.{path.stem}"
        for container in containers
        for path in (ROOT / container.replace(".", "/")).iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path.is_dir() and (path / "__init__.py").exists())
        if path.stem not in named
    ]
    assert unnamed == []


def test_every_domain_package_is_a_container_of_the_contract():
    containers = set(_contract()["containers"].split())
    generic = {"app.core", "app.policy", "app.web", "app.devdata", "app.mobile", "app.templates", "app.static"}
    packages = {
        f"app.{path.name}" for path in (ROOT / "app").iterdir() if path.is_dir() and (path / "__init__.py").exists()
    }
    assert packages - generic - containers == set()
