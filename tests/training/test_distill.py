"""translator-distill: the student trains on the teacher's beam-search translations."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.training.conftest import tiny_overrides
from training.release import distill as distill_module
from training.config import load_config
from training.release.distill import distill, main, teacher_translations
from translator.store.checkpoint import load_checkpoint
from translator.translate import Translator


def student_config(corpus, output_dir, **train):
    overrides = tiny_overrides(corpus, output_dir, **train)
    overrides.update({"data.src_lang": "xx", "data.tgt_lang": "yy"})
    return load_config(None, overrides)


def test_student_trains_on_the_teachers_translations(corpus, tmp_path, tiny_model_dir):
    config = student_config(corpus, tmp_path / "student", max_steps="3", attention_plots="0")
    best = distill(tiny_model_dir, config, beam_size=3)
    translations = tmp_path / "student" / "distill" / "train.yy"
    sources = corpus["train_src"].read_text().splitlines()
    expected = Translator.from_pretrained(tiny_model_dir, device="cpu").translate(sources, beam_size=3)
    assert translations.read_text(encoding="utf-8").split("\n")[:-1] == [" ".join(t.split()) for t in expected]
    metadata = load_checkpoint(best).metadata
    assert metadata["training_data"]["train_tgt"] == str(translations)
    assert "teacher" in metadata["training_data"]["name"]


def test_a_killed_translation_run_continues_and_a_new_teacher_starts_over(corpus, tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setattr(distill_module, "CHUNK_SENTENCES", 128)
    output = tmp_path / "straight.yy"
    teacher_translations(tiny_model_dir, corpus["train_src"], output, beam_size=2)
    complete = output.read_bytes()
    # A kill after two chunks and half a line: the partial file and its key are on disk.
    killed = tmp_path / "killed.yy"
    shutil.copy(output.with_name("straight.yy.key.json"), killed.with_name("killed.yy.key.json"))
    lines = complete.split(b"\n")
    killed.with_name("killed.yy.partial").write_bytes(b"\n".join(lines[:256]) + b"\n" + lines[256][:3])
    calls = []
    teacher_translations(tiny_model_dir, corpus["train_src"], killed, beam_size=2,
                         progress=lambda done, total: calls.append(done))
    assert killed.read_bytes() == complete
    assert calls[0] == 384  # it continued after the 256 complete lines
    assert not killed.with_name("killed.yy.partial").exists()
    # Another teacher (other weights) does not reuse the file.
    other = tmp_path / "other-teacher"
    shutil.copytree(tiny_model_dir, other)
    from tests.conftest import tiny_model
    from translator.store.checkpoint import save_checkpoint
    from translator.text.tokenizer import Tokenizer
    tokenizer = Tokenizer.load(other / "source.spm")
    shutil.rmtree(other)
    save_checkpoint(other, tiny_model(tokenizer.vocab_size, seed=11), tokenizer, tokenizer,
                    {"source_language": "xx", "target_language": "yy"})
    calls.clear()
    teacher_translations(other, corpus["train_src"], killed, beam_size=2, progress=lambda d, t: calls.append(d))
    assert calls[0] == 128  # started over
    assert killed.read_bytes() != complete


def test_a_copied_or_touched_source_is_not_translated_again_but_changed_bytes_are(corpus, tmp_path, tiny_model_dir):
    output = tmp_path / "distill" / "train.yy"
    teacher_translations(tiny_model_dir, corpus["train_src"], output, beam_size=2)
    translated = output.read_bytes()
    copy = tmp_path / "restored" / "train.xx"  # another path, inode and mtime; the same bytes
    copy.parent.mkdir()
    copy.write_bytes(corpus["train_src"].read_bytes())
    os.utime(copy, ns=(10**18, 10**18))
    calls = []
    teacher_translations(tiny_model_dir, copy, output, beam_size=2, progress=lambda done, total: calls.append(done))
    assert calls == [] and output.read_bytes() == translated
    lines = copy.read_text(encoding="utf-8").splitlines()
    copy.write_text("\n".join(["ein ganz anderer satz"] + lines[1:]) + "\n", encoding="utf-8")
    teacher_translations(tiny_model_dir, copy, output, beam_size=2, progress=lambda done, total: calls.append(done))
    assert calls and output.read_bytes() != translated


def test_cli_refuses_a_teacher_of_another_language_pair(corpus, tmp_path, tiny_model_dir, capsys):
    config = tmp_path / "student.yaml"
    config.write_text(f"data:\n  train_src: {corpus['train_src']}\n  train_tgt: {corpus['train_tgt']}\n"
                      f"  valid_src: {corpus['valid_src']}\n  valid_tgt: {corpus['valid_tgt']}\n"
                      "  src_lang: de\n  tgt_lang: en\n")
    assert main([str(tiny_model_dir), "--config", str(config), "--train.output_dir", str(tmp_path / "o")]) == 2
    assert "translates xx->yy" in capsys.readouterr().err


def test_interpolation_keeps_the_n_best_candidate_closest_to_the_reference(corpus, tmp_path, tiny_model_dir):
    sources = corpus["train_src"].read_text(encoding="utf-8").splitlines()[:40]
    source = tmp_path / "train.xx"
    source.write_text("\n".join(sources) + "\n", encoding="utf-8")
    n_best = Translator.from_pretrained(tiny_model_dir, device="cpu").translate_detailed(
        sources, beam_size=3, n_best=3, restore_case=False)
    # Each reference is the teacher's last candidate: interpolation must pick it over the first.
    wanted = [" ".join(result.n_best[-1].text.split()) for result in n_best]
    assert sum(w != " ".join(r.text.split()) for w, r in zip(wanted, n_best)) >= 10  # the choice matters
    references = tmp_path / "train.yy"
    references.write_text("\n".join(wanted) + "\n", encoding="utf-8")
    output = tmp_path / "distill" / "train.closest.yy"
    teacher_translations(tiny_model_dir, source, output, beam_size=3, references=references)
    assert output.read_text(encoding="utf-8").splitlines() == wanted
    # Other references are other work: translated again, not reused.
    references.write_text("\n".join(reversed(wanted)) + "\n", encoding="utf-8")
    calls = []
    teacher_translations(tiny_model_dir, source, output, beam_size=3, references=references,
                         progress=lambda done, total: calls.append(done))
    assert calls == [40]


def test_interpolation_refuses_references_of_another_length_naming_both_files(corpus, tmp_path, tiny_model_dir):
    references = tmp_path / "short.yy"
    references.write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"short\.yy has 2 lines and .*train\.src"):
        teacher_translations(tiny_model_dir, corpus["train_src"], tmp_path / "out.yy", references=references)


def test_cli_interpolate_writes_the_closest_translations_beside_the_plain_ones(corpus, tmp_path, tiny_model_dir, capsys):
    config = tmp_path / "student.yaml"
    config.write_text(f"data:\n  train_src: {corpus['train_src']}\n  train_tgt: {corpus['train_tgt']}\n"
                      f"  valid_src: {corpus['valid_src']}\n  valid_tgt: {corpus['valid_tgt']}\n"
                      "  src_lang: xx\n  tgt_lang: yy\n")
    assert main([str(tiny_model_dir), "--config", str(config), "--train.output_dir", str(tmp_path / "o"),
                 "--beam-size", "2", "--interpolate", "--translate-only"]) == 0
    written = tmp_path / "o" / "distill" / "train.closest.yy"
    assert capsys.readouterr().out.strip() == f"teacher translations: {written}"
    assert len(written.read_text(encoding="utf-8").splitlines()) == len(corpus["train_src"].read_text().splitlines())


def test_a_mixture_is_distilled_corpus_by_corpus_and_the_student_trains_on_the_same_mixture(
        corpus, tmp_path, tiny_model_dir):
    from tests.training.conftest import write_reverse_corpus

    everyday = write_reverse_corpus(tmp_path, "everyday", 50, seed=21)
    overrides = tiny_overrides(corpus, tmp_path / "student", max_steps="3", attention_plots="0")
    del overrides["data.train_src"], overrides["data.train_tgt"]
    overrides.update({"data.src_lang": "xx", "data.tgt_lang": "yy", "data.corpora": json.dumps([
        {"name": "main", "src": str(corpus["train_src"]), "tgt": str(corpus["train_tgt"]), "weight": 1.0},
        {"name": "everyday", "src": str(everyday[0]), "tgt": str(everyday[1]), "weight": 2.0}])})
    config = load_config(None, overrides)
    assert distill(tiny_model_dir, config, beam_size=2, translate_only=True) == tmp_path / "student" / "distill"
    teacher = Translator.from_pretrained(tiny_model_dir, device="cpu")
    for name, source in (("main", corpus["train_src"]), ("everyday", everyday[0])):
        expected = teacher.translate(source.read_text().splitlines(), beam_size=2)
        written = (tmp_path / "student" / "distill" / f"{name}.yy").read_text(encoding="utf-8")
        assert written.splitlines() == [" ".join(text.split()) for text in expected]

    best = distill(tiny_model_dir, config, beam_size=2)
    assert load_checkpoint(best).metadata["training_data"]["corpora"] == [
        {"name": "main", "src": str(corpus["train_src"]), "tgt": str(tmp_path / "student" / "distill" / "main.yy"),
         "weight": 1.0},
        {"name": "everyday", "src": str(everyday[0]), "tgt": str(tmp_path / "student" / "distill" / "everyday.yy"),
         "weight": 2.0}]


@pytest.mark.parametrize(("flags", "message"), [
    (["--beam-size", "0"], "--beam-size/--length-penalty: beam_size must be >= 1, got 0"),
    (["--length-penalty", "-1"], "--beam-size/--length-penalty: length_penalty must be >= 0, got -1.0"),
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
])
def test_cli_refuses_a_teacher_search_the_library_would_refuse_before_any_work(flags, message, tmp_path,
                                                                              tiny_model_dir, capsys):
    assert main([str(tiny_model_dir), "--config", str(tmp_path / "never-read.yaml"), *flags]) == 2
    assert message in capsys.readouterr().err
