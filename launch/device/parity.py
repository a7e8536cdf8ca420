#!/usr/bin/env python3
"""Parity of llamarec's ranker with the reference stack of the official LlamaRec (transformers + PEFT).

  parity.py make-model DIR --tokenizer tokenizer.model [--shape small|7b] [--dtype float32|bfloat16] [--device cpu|cuda]
      A random Llama in Hugging Face format. small: 4 layers, hidden 256, 8 heads over 2 KV heads (GQA), untied
      head, vocabulary 32,000 (the Llama 2 tokenizer, copied beside it). 7b: Llama-2-7B's shape (for throughput).
  parity.py make-adapter MODEL_DIR ADAPTER_DIR
      A PEFT LoRA adapter (r 8, alpha 16, q_proj and v_proj) with random A and B, saved by PEFT itself: the
      reverse direction (PEFT -> llamarec).
  parity.py compare MODEL_DIR --fp32 SCORES.json [--bf16 SCORES.json] [--device cpu|cuda] [--out RESULT.json]
      SCORES.json come from `llamarec score` (pipelines/score_prompts.h): prompts, their token ids, our letter
      logits and our label-only loss, and the adapter they used. The same prompts run through transformers with
      the adapter loaded by PeftModel.from_pretrained, one prompt per forward, as the official code runs them.

Checks and tolerances (every one prints a PASS/FAIL line; the exit status is 1 if any fails):
  - tokens: the prompt text tokenized as the reference's slow LlamaTokenizer does (BOS + SentencePiece's pieces;
    left truncation keeping BOS) equals our ids, for every prompt.
  - fp32: our letter logits against transformers' at the last position: relative error ||ours - ref|| / ||ref||
    <= 1e-4 over all prompts; the loss (mean cross-entropy of the answer letter and EOS): |ours - ref| <= 1e-4 *
    max(1, ref). The adapter's own effect (||ref - ref without adapter||) must be at least 100 times that
    error, so that a wrong adapter cannot pass by being small.
  - bf16 (--bf16): both implementations in bf16, each measured against transformers in fp32: ours may be at
    most twice as far from it as transformers' own bf16 run (plus 1e-3 relative, the bf16 step at logit scale),
    for the letter logits and for the loss. Our letter logits are computed in fp32 from the bf16 hidden state
    (transformers rounds them to bf16), so ours is usually the closer one. PeftModel.from_pretrained keeps the
    adapter in fp32 (autocast_adapter_dtype), as our fp32 LoRA masters.
Runs on CPU wherever torch, transformers and peft are installed; on CUDA with --device cuda.
"""
import argparse
import json
import os
import shutil
import sys

import torch
import torch.nn.functional as F


def dtype_of(name):
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


def llama_config(shape):
    from transformers import LlamaConfig

    common = dict(vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2,
                  pad_token_id=0, tie_word_embeddings=False, hidden_act="silu")
    if shape == "7b":
        return LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                           num_key_value_heads=32, initializer_range=0.02, **common)
    # Larger initial weights than HF's 0.02, so that the letter logits spread over about +-2 instead of
    # crowding near 0 where relative errors mean little.
    return LlamaConfig(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
                       num_key_value_heads=2, initializer_range=0.05, **common)


def make_model(args):
    from transformers import LlamaForCausalLM

    torch.manual_seed(args.seed)
    config = llama_config(args.shape)
    # Built in the target dtype: a 7B model in fp32 first would need 27 GB more and the time to convert.
    torch.set_default_dtype(dtype_of(args.dtype))
    with torch.device(args.device):
        model = LlamaForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    model.save_pretrained(args.dir)
    shutil.copy(args.tokenizer, os.path.join(args.dir, "tokenizer.model"))
    params = sum(p.numel() for p in model.parameters())
    print(f"parity: random Llama ({args.shape}, {params / 1e6:.1f}M parameters, {args.dtype}) -> {args.dir}")


def make_adapter(args):
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(args.seed)
    model = LlamaForCausalLM.from_pretrained(args.model_dir)
    # init_lora_weights=False: B random too (PEFT's default B = 0 would make the adapter a no-op).
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, bias="none",
                        task_type="CAUSAL_LM", init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(args.adapter_dir)
    print(f"parity: PEFT adapter (r 8, alpha 16, q,v; random A and B) -> {args.adapter_dir}")


def load_reference(model_dir, adapter, dtype, device):
    from transformers import LlamaForCausalLM

    try:
        model = LlamaForCausalLM.from_pretrained(model_dir, dtype=dtype)
    except TypeError:  # transformers < 4.56 calls it torch_dtype
        model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=dtype)
    model.to(device).eval()
    if adapter != "none":
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).to(device).eval()
    return model


@torch.no_grad()
def reference_numbers(model, prompts, letter_ids, device, adapter_enabled=True):
    """Letter logits [P, C] and losses [P] of every prompt, one prompt per forward (no padding)."""
    scores, losses = [], []
    for p in prompts:
        ids = torch.tensor([p["input_ids"]], device=device)
        train = torch.tensor([p["train_ids"]], device=device)

        def forward(x):
            if adapter_enabled or not hasattr(model, "disable_adapter"):
                return model(input_ids=x).logits
            with model.disable_adapter():
                return model(input_ids=x).logits

        logits = forward(ids)[0, -1].float()
        scores.append(logits[letter_ids].cpu())
        # As the official trainer's labels: every label ignored but the letter and EOS; logits at t predict t+1.
        out = forward(train)[0].float()
        losses.append(F.cross_entropy(out[-3:-1], train[0, -2:]).item())
    return torch.stack(scores).double(), torch.tensor(losses, dtype=torch.float64)


def ours(scores_file):
    prompts = scores_file["prompts"]
    s = torch.tensor([p["letter_scores"] for p in prompts], dtype=torch.float64)
    loss = torch.tensor([p["loss"] for p in prompts], dtype=torch.float64)
    return s, loss


def rel(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


class Report:
    def __init__(self):
        self.checks = []

    def check(self, name, ok, detail, **figures):
        print(f"parity: {name}: {detail} {'PASS' if ok else 'FAIL'}", flush=True)
        self.checks.append({"check": name, "pass": bool(ok), "detail": detail, **figures})

    def info(self, name, detail, **figures):
        print(f"parity: {name}: {detail}", flush=True)
        self.checks.append({"check": name, "pass": None, "detail": detail, **figures})


def check_tokens(report, model_dir, prompts):
    try:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
    except Exception as e:  # sentencepiece missing
        report.info("tokens", f"skipped: no SentencePiece ({type(e).__name__}: {e})")
        return
    # The reference's (slow, legacy) LlamaTokenizer is BOS + SentencePiece's pieces of the text; a prompt
    # cut from the left keeps BOS and its last max_text_tokens - 1 tokens, as HF's left truncation does.
    same = 0
    for p in prompts:
        ids = [sp.bos_id()] + sp.encode(p["text"])
        n = len(p["input_ids"])
        if p.get("truncated", False):
            ids = ids[:1] + ids[len(ids) - (n - 1):]
        same += ids == p["input_ids"]
    truncated = sum(bool(p.get("truncated", False)) for p in prompts)
    report.check("tokens", same == len(prompts),
                 f"{same}/{len(prompts)} prompts ({truncated} cut from the left) tokenized identically by SentencePiece",
                 same=same, compared=len(prompts))


def compare(args):
    report = Report()
    device = args.device
    fp32 = json.load(open(args.fp32))
    prompts = fp32["prompts"]
    letter_ids = torch.tensor([int(x) for x in fp32["letter_ids"]], device=device)
    adapter = fp32["adapter"]
    print(f"parity: {len(prompts)} prompts, adapter {adapter}, transformers on {device}", flush=True)
    check_tokens(report, args.model_dir, prompts)

    model = load_reference(args.model_dir, adapter, torch.float32, device)
    ref_s, ref_l = reference_numbers(model, prompts, letter_ids, device)
    our_s, our_l = ours(fp32)
    err = rel(our_s, ref_s)
    loss_err = (our_l - ref_l).abs().max().item()
    report.check("fp32 letter logits", err <= 1e-4, f"relative error {err:.2e} (tolerance 1e-4), max |ref| "
                 f"{ref_s.abs().max().item():.3f}", relative_error=err)
    report.check("fp32 loss", loss_err <= 1e-4 * max(1.0, ref_l.abs().max().item()),
                 f"max |ours - ref| {loss_err:.2e} at losses around {ref_l.mean().item():.4f} (tolerance 1e-4)",
                 max_abs_error=loss_err, reference_mean=ref_l.mean().item())
    top1 = (our_s.argmax(1) == ref_s.argmax(1)).double().mean().item()
    report.info("fp32 top letter", f"same top letter on {top1:.0%} of prompts", agreement=top1)
    if adapter != "none":
        base_s, _ = reference_numbers(model, prompts, letter_ids, device, adapter_enabled=False)
        effect = rel(ref_s, base_s)
        report.check("adapter effect", effect >= 100 * err,
                     f"the adapter moves the letter logits by {effect:.2e} (relative), {effect / max(err, 1e-30):.0f}x "
                     "the fp32 error (needs >= 100x)", relative_effect=effect)
    del model

    if args.bf16:
        bf16 = json.load(open(args.bf16))
        if [p["input_ids"] for p in bf16["prompts"]] != [p["input_ids"] for p in prompts]:
            report.check("bf16 prompts", False, f"{args.bf16} holds other prompts than {args.fp32}")
        else:
            model = load_reference(args.model_dir, bf16["adapter"], torch.bfloat16, device)
            hf_s, hf_l = reference_numbers(model, prompts, letter_ids, device)
            del model
            our_bs, our_bl = ours(bf16)
            e_ours, e_hf = rel(our_bs, ref_s), rel(hf_s, ref_s)
            report.check("bf16 letter logits", e_ours <= 2 * e_hf + 1e-3,
                         f"ours {e_ours:.2e}, transformers {e_hf:.2e} from the fp32 reference (ours <= 2x + 1e-3); "
                         f"ours against transformers bf16 {rel(our_bs, hf_s):.2e}", ours=e_ours, transformers=e_hf)
            l_ours = (our_bl - ref_l).abs().max().item()
            l_hf = (hf_l - ref_l).abs().max().item()
            report.check("bf16 loss", l_ours <= 2 * l_hf + 1e-3 * max(1.0, ref_l.abs().max().item()),
                         f"max |ours - fp32 ref| {l_ours:.2e}, transformers {l_hf:.2e}", ours=l_ours, transformers=l_hf)
            top1 = (our_bs.argmax(1) == ref_s.argmax(1)).double().mean().item()
            report.info("bf16 top letter", f"same top letter as the fp32 reference on {top1:.0%} of prompts",
                        agreement=top1)

    failed = [c["check"] for c in report.checks if c["pass"] is False]
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            json.dump({"adapter": adapter, "device": device, "prompts": len(prompts), "checks": report.checks,
                       "passed": not failed}, f, indent=1)
        os.replace(args.out + ".tmp", args.out)
    print(f"parity: {'all checks passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make-model")
    m.add_argument("dir")
    m.add_argument("--tokenizer", required=True)
    m.add_argument("--shape", choices=["small", "7b"], default="small")
    m.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    m.add_argument("--device", default="cpu")
    m.add_argument("--seed", type=int, default=0)
    a = sub.add_parser("make-adapter")
    a.add_argument("model_dir")
    a.add_argument("adapter_dir")
    a.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("compare")
    c.add_argument("model_dir")
    c.add_argument("--fp32", required=True)
    c.add_argument("--bf16")
    c.add_argument("--device", default="cpu")
    c.add_argument("--out")
    args = parser.parse_args()
    if args.command == "make-model":
        make_model(args)
    elif args.command == "make-adapter":
        make_adapter(args)
    else:
        sys.exit(compare(args))


if __name__ == "__main__":
    main()
