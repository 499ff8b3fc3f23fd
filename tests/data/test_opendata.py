"""CERN Open Data file-index downloads, offline against a fake portal on a loopback HTTP server:
record JSON -> .txt index -> first n files, root:// -> mirror, adler32 from the JSON index,
resume, refusal of bad files, malformed records and indexes, the offline error."""

from __future__ import annotations

import json
import socket

import pytest

from conservattack.data.fetch.download import DownloadError
from conservattack.data.fetch.opendata import (fetch_record, fetch_records, manifest_files, mirror_url, parse_checksum, read_txt_index)
from opendata_portal import FakePortal

FAST = {"retries": 2, "backoff": 0.01, "timeout": 5, "progress": False}
# each starts like a ROOT file (what an unverified download is checked for)
FILES = {f"file{k}.root": b"root" + bytes([k]) * (5000 + 1000 * k) for k in range(5)}


@pytest.fixture
def portal():
    with FakePortal() as p:
        yield p


def data_requests(portal):
    return [path for path, _ in portal.requests if path.startswith("/eos/")]


def test_first_n_files_in_index_order_verified(portal, tmp_path):
    uris = portal.add_record(9582, "TTJets", FILES, n_txt=2)
    m = fetch_record(9582, tmp_path / "9582", n_files=4, server=portal.server, **FAST)
    assert [f["uri"] for f in m["files"]] == uris[:4]  # across both .txt indexes, in order
    assert m["listed"] == 5 and all(f["verified"] for f in m["files"])
    for f, name in zip(m["files"], list(FILES)[:4]):
        assert f["url"] == f"{portal.server}/eos/opendata/cms/TTJets/AODSIM/{name}"
        assert (tmp_path / "9582" / name).read_bytes() == FILES[name]
        assert f["size"] == len(FILES[name]) and len(f["adler32"]) == 8
    assert not (tmp_path / "9582" / "file4.root").exists()
    assert data_requests(portal) == [f"/eos/opendata/cms/TTJets/AODSIM/file{k}.root" for k in range(4)]
    assert portal.requests[0][0] == "/api/records/9582"
    # a second call downloads nothing: everything on disk verifies
    portal.requests.clear()
    again = fetch_record(9582, tmp_path / "9582", n_files=4, server=portal.server, **FAST)
    assert again["files"] == m["files"] and portal.requests == []


def test_only_needed_indexes_are_read(portal, tmp_path):
    portal.add_record(9971, "WWJets", FILES, n_txt=2, json_index=False)
    m = fetch_record(9971, tmp_path, n_files=1, server=portal.server, checksums="none", **FAST)
    assert len(m["files"]) == 1 and not m["files"][0]["verified"] and m["files"][0]["adler32"] is None
    assert [p for p, _ in portal.requests if "/files/" in p] == ["/record/9971/files/CMS_WWJets_AODSIM_00000_file_index.txt"]


def test_several_records_and_manifest(portal, tmp_path):
    portal.add_record(6021, "SingleMuB", dict(list(FILES.items())[:2]))
    portal.add_record(6047, "SingleMuC", dict(list(FILES.items())[2:]))
    out = fetch_records([6021, 6047], tmp_path, n_files=1, server=portal.server, **FAST)
    assert out["files"] == [str(tmp_path / "6021" / "file0.root"), str(tmp_path / "6047" / "file2.root")]
    (tmp_path / "manifest.json").write_text(json.dumps(out))
    assert manifest_files(tmp_path / "manifest.json") == out["files"]
    (tmp_path / "6047" / "file2.root").unlink()
    with pytest.raises(FileNotFoundError, match="file2.root.*no longer exist"):
        manifest_files(tmp_path / "manifest.json")


def test_more_files_asked_than_listed_takes_all(portal, tmp_path, capsys):
    portal.add_record(1, "A", dict(list(FILES.items())[:2]))
    m = fetch_record(1, tmp_path, n_files=10, server=portal.server, **FAST)
    assert len(m["files"]) == 2 and "n_files = 10 asked, its indexes list 2" in capsys.readouterr().err
    assert len(fetch_record(1, tmp_path, n_files=None, server=portal.server, **FAST)["files"]) == 2


def test_resume_after_dropped_connection(portal, tmp_path):
    portal.add_record(9602, "TTJetsSemi", FILES)
    path = "/eos/opendata/cms/TTJetsSemi/AODSIM/file3.root"
    portal.drop.add(path)
    fetch_record(9602, tmp_path, n_files=4, server=portal.server, **FAST)
    assert (tmp_path / "file3.root").read_bytes() == FILES["file3.root"]
    ranges = [r for p, r in portal.requests if p == path]
    assert ranges == [None, f"bytes={len(FILES['file3.root']) // 2}-"]


def test_file_not_matching_published_checksum_is_refused(portal, tmp_path):
    portal.add_record(9582, "TTJets", FILES, bad_checksum=("file1.root",))
    with pytest.raises(DownloadError) as err:
        fetch_record(9582, tmp_path, n_files=3, server=portal.server, **FAST)
    msg = str(err.value)
    assert "record 9582" in msg and "file1.root" in msg and "adler32: expected" in msg
    assert (tmp_path / "file0.root").exists() and not (tmp_path / "file1.root").exists()
    assert not (tmp_path / "file1.root.part").exists()


def test_file_without_published_checksum_is_kept_unverified(portal, tmp_path, capsys):
    portal.add_record(5, "B", dict(list(FILES.items())[:2]), json_index=False)
    m = fetch_record(5, tmp_path, n_files=2, server=portal.server, **FAST)
    assert [f["verified"] for f in m["files"]] == [False, False]
    assert "no size or checksum published" in capsys.readouterr().err


def test_unverified_file_that_is_not_root_is_refused_and_removed(portal, tmp_path):
    # a portal answering 200 with an HTML page for a file the indexes publish no checksum for
    page = b"<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>"
    portal.add_record(5, "B", {"file0.root": FILES["file0.root"], "file1.root": page}, json_index=False)
    with pytest.raises(DownloadError, match=r"record 5: .*/B/AODSIM/file1.root sent a file that is not a ROOT "
                                            r"file \(it starts with b'<!DOCTYPE html.*an HTML page"):
        fetch_record(5, tmp_path, n_files=2, server=portal.server, **FAST)
    assert (tmp_path / "file0.root").exists() and not (tmp_path / "file1.root").exists()
    portal.content["/eos/opendata/cms/B/AODSIM/file1.root"] = FILES["file1.root"]  # the portal is back
    m = fetch_record(5, tmp_path, n_files=2, server=portal.server, **FAST)
    assert (tmp_path / "file1.root").read_bytes() == FILES["file1.root"] and not m["files"][1]["verified"]


def test_cached_record_metadata_is_reused_only_for_its_own_url(portal, tmp_path):
    # the metadata has no checksum: a corrected record_url (or server) must ask again, and a
    # record whose layout cannot be read is not kept
    portal.add_record(9582, "TTJets", FILES)
    portal.content["/api/v2/records/9582"] = portal.content["/api/records/9582"]
    portal.content["/api/records/9582"] = json.dumps({"metadata": {"files": []}}).encode()  # a layout change
    with pytest.raises(ValueError, match="lists no file index"):
        fetch_record(9582, tmp_path / "r", n_files=1, server=portal.server, **FAST)
    assert not (tmp_path / "r" / "record.json").exists()
    portal.requests.clear()
    m = fetch_record(9582, tmp_path / "r", n_files=1, server=portal.server,
                     record_url="{server}/api/v2/records/{record}", **FAST)
    assert m["files"][0]["verified"] and portal.requests[0][0] == "/api/v2/records/9582"
    portal.requests.clear()  # the same URL again: the cached metadata serves, no request at all
    fetch_record(9582, tmp_path / "r", n_files=1, server=portal.server, record_url="{server}/api/v2/records/{record}",
                 **FAST)
    assert portal.requests == []
    portal.content["/api/records/9582"] = portal.content["/api/v2/records/9582"]
    fetch_record(9582, tmp_path / "r", n_files=1, server=portal.server, **FAST)  # back to the default URL
    assert portal.requests[0][0] == "/api/records/9582"


def test_record_without_index_and_malformed_index(portal, tmp_path):
    portal.content["/api/records/77"] = json.dumps(
        {"metadata": {"files": [{"uri": f"{EOS_}/x/readme.txt", "size": 3, "checksum": "adler32:1"}]}}).encode()
    with pytest.raises(ValueError, match=r"/api/records/77: record 77 lists no file index .*readme.txt"):
        fetch_record(77, tmp_path / "77", n_files=1, server=portal.server, **FAST)
    portal.add_record(78, "C", {"a.root": b"abc"})
    name = "/record/78/files/CMS_C_AODSIM_00000_file_index.txt"
    portal.content[name] = b"root://eospublic.cern.ch//eos/opendata/cms/C/a.root\nnot a url\n"
    meta = json.loads(portal.content["/api/records/78"])
    meta["metadata"]["files"][0].update(size=len(portal.content[name]), checksum=None)
    portal.content["/api/records/78"] = json.dumps(meta).encode()
    with pytest.raises(ValueError, match=r"file_index.txt: line 2: 'not a url' is not a root:// or http"):
        fetch_record(78, tmp_path / "78", n_files=1, server=portal.server, **FAST)
    portal.content["/api/records/79"] = b"<html>not json</html>"
    with pytest.raises(ValueError, match="record 79 metadata is not JSON"):
        fetch_record(79, tmp_path / "79", n_files=1, server=portal.server, **FAST)
    assert not (tmp_path / "79" / "record.json").exists()
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch_record(80, tmp_path / "80", n_files=1, server=portal.server, **FAST)


EOS_ = "root://eospublic.cern.ch//eos/opendata/cms"


def test_offline_names_the_local_files_option(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as err:
        fetch_record(9582, tmp_path, n_files=1, server=f"http://127.0.0.1:{port}",
                     local_option="ttww.samples.tt.local_files", **{**FAST, "retries": 0})
    assert err.value.offline
    assert "enable network access" in str(err.value) and "'ttww.samples.tt.local_files'" in str(err.value)


def test_url_helpers_and_checksums(tmp_path):
    eos = "root://eospublic.cern.ch//eos/opendata/cms/MonteCarlo2012/Summer12_DR53X/TTJets/AODSIM/x.root"
    assert mirror_url(eos) == "https://opendata.cern.ch/eos/opendata/cms/MonteCarlo2012/Summer12_DR53X/TTJets/AODSIM/x.root"
    assert mirror_url(eos, "http://127.0.0.1:8/") == "http://127.0.0.1:8/eos/opendata/cms/MonteCarlo2012/" \
                                                     "Summer12_DR53X/TTJets/AODSIM/x.root"
    assert mirror_url("https://h/x.root", "http://other") == "https://h/x.root"
    assert parse_checksum("adler32:1A2b", "w") == "00001a2b" and parse_checksum("sha1:ab", "w") is None
    assert parse_checksum(None, "w") is None
    with pytest.raises(ValueError, match="w: adler32 checksum 'adler32:xyz'"):
        parse_checksum("adler32:xyz", "w")
    with pytest.raises(ValueError, match="not of the form"):
        parse_checksum("e4717bbe", "w")
    (tmp_path / "i.txt").write_text("# comment\n\n" + eos + "\r\n  https://h/y.root  \n")
    assert read_txt_index(tmp_path / "i.txt") == [eos, "https://h/y.root"]
    with pytest.raises(ValueError, match="n_files must be a positive integer"):
        fetch_record(1, tmp_path, n_files=0)
    with pytest.raises(ValueError, match="checksums must be one of"):
        fetch_record(1, tmp_path, n_files=1, checksums="sha")
