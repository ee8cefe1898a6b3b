"""`python -m services.webhook`: the registration API and the consumer on PORT (8003)."""

from identity.settings import refuse_to_start_with_weak_secrets
from services.webhook.main import run
from services.webhook.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    refuse_to_start_with_weak_secrets(settings.tocsin_env, {"JWT_SECRET": settings.jwt_secret})
    run(settings)
