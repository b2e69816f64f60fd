from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "staff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Signal receivers are connected once the models are loaded (Django's app registry).
        from staff import signals

        signals.connect()
