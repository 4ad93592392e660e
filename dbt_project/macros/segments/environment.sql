{#-
  env_var() as every model and macro of this project sees it. dbt renders a segment's Jinja
  when it parses the project, before the guard (guard.sql) runs, so with dbt's own env_var a
  plain `dbt build` of `{{ log(env_var('X'), info=True) }}` would print X to the terminal and
  logs/dbt.log. A root-project macro takes the name over from dbt's built-in: in a segment it
  refuses without reading the variable; everywhere else it is dbt's env_var.
  Project code that must read the environment while a segment is built (the segment
  materialization) calls builtins.env_var. Secrets stay in DBT_ENV_SECRET_* names, which
  dbt's env_var refuses in any model (README, Segments).
-#}
{% macro env_var(name, default=none) -%}
    {%- if model is defined and tessera_is_segment(model) -%}
        {%- do tessera_segment_error(model, "segments cannot read environment variables (env_var)") -%}
    {%- endif -%}
    {{ return(builtins.env_var(name, default)) }}
{%- endmacro %}
