"Pieces the decoding benchmarks share: the command line and the random models every one of them measures."
import argparse
import torch
from transformers import LlamaConfig, LlamaForCausalLM


def decoding_args(doc:str, reps:int=7, scaling:str|None=None) -> argparse.Namespace:
    "The decoding benchmarks' flags (and `--scaling` with that help, if given), parsed; also sets torch's thread count and seed."
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=reps)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--gpu-1b", action="store_true", help="also a random ~1B Llama in bf16 on CUDA")
    if scaling: ap.add_argument("--scaling", action="store_true", help=scaling)
    a = ap.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    return a


def random_llama_cpu() -> LlamaForCausalLM:
    "A random Llama with a real-size vocabulary (V=32000, hidden 512, 4 layers), fp32 on the CPU."
    cfg = LlamaConfig(vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=4, num_attention_heads=8,
                      num_key_value_heads=8, max_position_embeddings=512)
    return LlamaForCausalLM(cfg).eval()


def random_llama_1b_cuda() -> LlamaForCausalLM:
    "A random ~1B Llama (Llama-3.2-1B shape, V=128256) in bf16 on CUDA."
    cfg = LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                      num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=2048, tie_word_embeddings=True)
    return LlamaForCausalLM(cfg).to("cuda", torch.bfloat16).eval()
