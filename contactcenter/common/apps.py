from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "contactcenter.common"
    label = "common"
    verbose_name = "Common"
