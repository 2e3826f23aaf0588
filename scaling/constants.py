"""The paper's constants that code outside the law table needs, each defined
once (Kaplan et al. 2020; see /work/shared/paper.md). The fitted laws' own
paper values live with their forms (forms.LAWS) and are built from these."""

PF_DAY = 8.64e19  # FLOP in one petaflop/s-day

# B_crit(L) = B*/L^(1/alpha_B) (Eq. 5.3), B in tokens, L in nats per (BPE) token.
BCRIT_B_STAR = 2e8
BCRIT_ALPHA_B = 0.21

# LR(N) ≈ LR_A + LR_B·ln(N) (Appendix D.6).
LR_A = 0.003239
LR_B = -0.0001395
