"""Two-factor sign-in (django-otp): an authenticator app (TOTP) and ten recovery codes.

After the password, a user who has an authenticator is asked for a code; a user who must
use one (policy.two_factor_required) and has none is sent to set one up. Until then
core.middleware.TwoFactorMiddleware sends every other page to that step.

- policy: who must use a second factor, and which step a signed-in user still owes;
- services: set up an authenticator, check a code (failures logged, counted per session
  and towards django-axes' lockout), reset a user's devices;
- views, forms: the pages under /accounts/two-factor/.
"""
