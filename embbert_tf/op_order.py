"""Operator order of an int8 model: the execution order that gives TFLM's arena its smallest peak."""
from __future__ import annotations

import itertools


from embbert_tf.flatbuffer import pack, read, tensor_bytes

class Schedule:
    """The operator graph of a one-subgraph model, for trying execution orders.

    TFLM plans activations by liveness in execution order, so the order decides the arena. The converter
    runs EmbBERT's conv branch before its attention branch: the conv output is then alive while the two
    L×L attention tensors are. Orders here are topological by construction, so every op still reads the
    same inputs and outputs are bit-identical; only the peak of live activations changes.
    """

    def __init__(self, data: bytes):
        self.model = read(data)
        sg = self.model.subgraphs[0]
        self.ops = list(sg.operators)
        buffers = self.model.buffers
        self.constant = {i for i, t in enumerate(sg.tensors)
                         if buffers[t.buffer].data is not None and len(buffers[t.buffer].data)}
        self.size = [tensor_bytes(t) for t in sg.tensors]
        self.inputs = [sorted({i for i in op.inputs if i >= 0 and i not in self.constant}) for op in self.ops]
        self.graph_inputs = {int(i) for i in sg.inputs}
        self.graph_outputs = {int(i) for i in sg.outputs}
        producer = {o: k for k, op in enumerate(self.ops) for o in op.outputs}
        self.deps = [{producer[i] for i in ins if i in producer} for ins in self.inputs]
        self.users = [[] for _ in self.ops]
        for k, deps in enumerate(self.deps):
            for d in deps:
                self.users[d].append(k)

    def profile(self, order: list[int]) -> tuple[int, ...]:
        """Live activation bytes at each op of `order` (its inputs and outputs coexist), largest first.

        Compared as tuples, a lower profile has a lower peak, or the same peak and a lower next-highest
        step, ... so improving one layer counts even while another layer holds the peak."""
        last = {}
        for pos, k in enumerate(order):
            for i in self.inputs[k]:
                last[i] = pos
        live = sum(self.size[i] for i in self.graph_inputs)
        steps = []
        for pos, k in enumerate(order):
            live += sum(self.size[o] for o in self.ops[k].outputs)
            steps.append(live)
            live -= sum(self.size[i] for i in self.inputs[k] if last[i] == pos and i not in self.graph_outputs
                        and i not in self.graph_inputs)
        return tuple(sorted(steps, reverse=True))

    def depth_first(self, rank: list[int]) -> list[int]:
        """A topological order that finishes a branch before it starts another; where several ops become
        ready together, the one with the lowest rank runs first."""
        waiting = [len(d) for d in self.deps]
        stack = sorted((k for k, n in enumerate(waiting) if n == 0), key=lambda k: -rank[k])
        order = []
        while stack:
            k = stack.pop()
            order.append(k)
            stack.extend(sorted((u for u in self.users[k] if not _release(waiting, u)), key=lambda u: -rank[u]))
        return order

    def candidates(self, passes: int = 2, keep: int = 3) -> list[list[int]]:
        """The original order, then the best depth-first orders found by trying, fork by fork, every order
        of the branches that leave it (coordinate descent on the simulated peak)."""
        rank = list(range(len(self.ops)))
        best = self.depth_first(rank)
        seen = {tuple(best): self.profile(best)}
        forks = [k for k, users in enumerate(self.users) if len(users) > 1]
        for _ in range(passes):
            for fork in forks:
                users = self.users[fork]
                slots = sorted(rank[u] for u in users)
                for perm in _branch_orders(sorted(users, key=lambda u: rank[u])):
                    trial = list(rank)
                    for slot, u in zip(slots, perm):
                        trial[u] = slot
                    order = self.depth_first(trial)
                    profile = seen.setdefault(tuple(order), self.profile(order))
                    if profile < seen[tuple(best)]:
                        best, rank = order, trial
        original = list(range(len(self.ops)))
        ranked = sorted(seen, key=seen.get)[:keep]
        return [original] + [list(o) for o in ranked if list(o) != original]

    def apply(self, order: list[int]) -> bytes:
        self.model.subgraphs[0].operators = [self.ops[k] for k in order]
        data = pack(self.model)
        self.model.subgraphs[0].operators = self.ops
        return data


def _branch_orders(users: list[int]):
    """Every order of up to 5 branches; for wider forks, each branch moved to the front."""
    if len(users) <= 5:
        return itertools.permutations(users)
    return ([u, *(v for v in users if v != u)] for u in users)


def _release(waiting: list[int], k: int) -> int:
    waiting[k] -= 1
    return waiting[k]
