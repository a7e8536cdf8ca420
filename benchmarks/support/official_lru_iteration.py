"""Seconds per LRURec training iteration of the official LlamaRec code (github.com/Yueeeeeeee/LlamaRec),
at its ML-100k settings: batch 16, max_len 200, AdamW (lr 1e-3, weight decay 0.01 off bias and
LayerNorm, eps 1e-9), gradient clipping at 5, dropout 0.2, one thread. Its own model and loss
(model/lru.py, CrossEntropyLoss(ignore_index=0) over every position), on training windows built as
its LRUTrainDataset builds them from a MovieLens ratings.csv (5-core, per-user time order, the last
two items held out). Used by benchmarks/retriever_vs_official.sh; prints one JSON line.

  PYTHON official_lru_iteration.py OFFICIAL_DIR RATINGS_CSV [ITERATIONS]
"""
import collections
import csv
import importlib.util
import json
import os
import random
import sys
import time


def five_core(rows):
    while True:
        users = collections.Counter(u for u, _, _ in rows)
        items = collections.Counter(i for _, i, _ in rows)
        kept = [r for r in rows if users[r[0]] >= 5 and items[r[1]] >= 5]
        if len(kept) == len(rows):
            return kept
        rows = kept


def training_windows(ratings_csv, max_len):
    with open(ratings_csv, newline="") as f:
        rows = [(r["userId"], r["movieId"], int(float(r["timestamp"]))) for r in csv.DictReader(f)]
    rows = five_core(rows)
    item_ids = {i: n + 1 for n, i in enumerate(sorted({i for _, i, _ in rows}, key=int))}
    by_user = collections.defaultdict(list)
    for u, i, t in rows:
        by_user[u].append((t, item_ids[i]))
    windows = []
    for u in sorted(by_user, key=int):
        seq = [i for _, i in sorted(by_user[u], key=lambda x: x[0])][:-2]  # train part
        if len(seq) < 2 * max_len:  # sliding_window_size 1.0: step = max_len
            windows.append(seq)
        else:
            windows += [seq[i:i + max_len] for i in range(len(seq) - max_len, -1, -max_len)]
    return windows, len(item_ids)


def main():
    official, ratings = sys.argv[1], sys.argv[2]
    iterations = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    sys.path.insert(0, official)
    sys.argv = [sys.argv[0], "--dataset_code", "ml-100k", "--model_code", "lru"]
    import torch
    import config  # the official argparse defaults (parsed at import)

    # model/lru.py alone: the package's __init__ also imports the Llama ranker, which needs transformers.
    spec = importlib.util.spec_from_file_location("official_lru", os.path.join(official, "model", "lru.py"))
    lru = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lru)
    LRURec = lru.LRURec

    torch.set_num_threads(1)
    torch.manual_seed(42)
    random.seed(42)
    args = config.args
    config.set_template(args)
    args.device = "cpu"
    windows, args.num_items = training_windows(ratings, args.bert_max_len)
    model = LRURec(args)
    model.train()
    no_decay = ["bias", "layer_norm"]
    named = list(model.named_parameters())
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in named if not any(nd in n for nd in no_decay)], "weight_decay": args.weight_decay},
         {"params": [p for n, p in named if any(nd in n for nd in no_decay)], "weight_decay": 0.0}],
        lr=args.lr, eps=args.adam_epsilon)
    ce = torch.nn.CrossEntropyLoss(ignore_index=0)
    L = args.bert_max_len

    def batch():
        tokens, labels = [], []
        for seq in random.sample(windows, args.train_batch_size):
            lab, tok = seq[-L:], seq[:-1][-L:]
            tokens.append([0] * (L - len(tok)) + tok)
            labels.append([0] * (L - len(lab)) + lab)
        return torch.LongTensor(tokens), torch.LongTensor(labels)

    def iteration():
        seqs, labels = batch()
        optimizer.zero_grad()
        logits = model(seqs)
        loss = ce(logits.view(-1, logits.size(-1)), labels.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()

    for _ in range(10):  # warm-up
        iteration()
    start = time.perf_counter()
    for _ in range(iterations):
        iteration()
    seconds = (time.perf_counter() - start) / iterations
    print(json.dumps({"seconds_per_iteration": seconds, "iterations": iterations, "windows": len(windows),
                      "num_items": args.num_items, "batch": args.train_batch_size, "max_len": L,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
